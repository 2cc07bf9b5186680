"""The points API: a player's balance and ledger (newest first, paged, their own only)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.http import bearer, dev_login, error_code


def test_balance_is_the_signup_bonus_after_dev_login(client: TestClient) -> None:
    player = dev_login(client, "points.balance@example.com")
    r = client.get("/v1/points/balance", headers=bearer(player["access_token"]))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["balance"] == 1000
    assert data["user_id"] == player["user"]["id"]


def test_ledger_lists_the_signup_entry_with_total(client: TestClient) -> None:
    player = dev_login(client, "points.ledger@example.com")
    r = client.get("/v1/points/ledger", headers=bearer(player["access_token"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meta"]["total"] == 1
    [entry] = body["data"]
    assert (entry["ref_type"], entry["delta_points"], entry["balance_after"]) == ("SIGNUP", 1000, 1000)
    assert entry["reason"] == "signup_bonus"
    assert entry["created_at"].endswith("+09:00")


def test_points_routes_need_a_token(client: TestClient) -> None:
    for path in ("/v1/points/balance", "/v1/points/ledger"):
        r = client.get(path)
        assert r.status_code == 401, path
        assert error_code(r) == "AUTH_001"
        r = client.get(path, headers=bearer("not-a-token"))
        assert r.status_code == 401, path


def test_ledger_is_newest_first_and_pages_with_meta_total(client: TestClient) -> None:
    admin = dev_login(client, "points.admin1@example.com", role="ADMIN")
    player = dev_login(client, "points.newest@example.com")
    player_id = player["user"]["id"]
    r = client.post(
        f"/admin/users/{player_id}/adjust-points",
        json={"delta": 250, "reason": "goodwill"},
        headers=bearer(admin["access_token"]),
    )
    assert r.status_code == 200, r.text
    body = client.get("/v1/points/ledger", headers=bearer(player["access_token"])).json()
    assert body["meta"]["total"] == 2
    assert [(e["ref_type"], e["balance_after"]) for e in body["data"]] == [("ADMIN", 1250), ("SIGNUP", 1000)]
    assert body["data"][0]["id"] > body["data"][1]["id"]
    page = client.get(
        "/v1/points/ledger", params={"limit": 1, "offset": 1}, headers=bearer(player["access_token"])
    ).json()
    assert page["meta"]["total"] == 2 and (page["meta"]["limit"], page["meta"]["offset"]) == (1, 1)
    assert [e["ref_type"] for e in page["data"]] == ["SIGNUP"]


def test_a_player_sees_only_their_own_ledger(client: TestClient) -> None:
    admin = dev_login(client, "points.admin2@example.com", role="ADMIN")
    rich = dev_login(client, "points.rich@example.com")
    poor = dev_login(client, "points.poor@example.com")
    rich_id = rich["user"]["id"]
    client.post(
        f"/admin/users/{rich_id}/adjust-points",
        json={"delta": 500, "reason": "contest prize"},
        headers=bearer(admin["access_token"]),
    )
    rich_ledger = client.get("/v1/points/ledger", headers=bearer(rich["access_token"])).json()
    poor_ledger = client.get("/v1/points/ledger", headers=bearer(poor["access_token"])).json()
    assert rich_ledger["meta"]["total"] == 2
    assert poor_ledger["meta"]["total"] == 1
    assert [e["ref_type"] for e in poor_ledger["data"]] == ["SIGNUP"]
    assert not {e["id"] for e in rich_ledger["data"]} & {e["id"] for e in poor_ledger["data"]}
    assert (
        client.get("/v1/points/balance", headers=bearer(poor["access_token"])).json()["data"]["balance"]
        == 1000
    )
