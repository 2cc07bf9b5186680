"""GET /admin/users?q= (search by email or nickname) and POST /admin/users/{id}/suspend |
reactivate: a suspension stops the player's tokens at once, blocks refresh and sign-in
(and the deleted-account reactivation), and is audited; reactivation restores."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.support.db import count
from tests.support.http import bearer, dev_login, error_code


def _admin(client: TestClient) -> tuple[int, dict[str, str]]:
    login = dev_login(client, "ops.admin@example.com", role="ADMIN")
    return int(login["user"]["id"]), bearer(login["access_token"])


def _search(client: TestClient, headers: dict[str, str], query: str) -> Any:
    r = client.get(f"/admin/users?{query}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_search_finds_users_by_part_of_their_email_or_nickname_case_insensitively(client: TestClient) -> None:
    _admin_id, admin = _admin(client)
    alice = dev_login(client, "alice.kim@example.com", nickname="AliceKim")["user"]
    dev_login(client, "carol@alice.org", nickname="carol")
    dev_login(client, "bob@example.com", nickname="malice_bob")
    dev_login(client, "dave@example.com", nickname="dave")

    found = _search(client, admin, "q=ALICE")
    assert found["meta"]["total"] == 3
    assert [u["nickname"] for u in found["data"]] == ["AliceKim", "carol", "malice_bob"]  # prefixes first
    first = found["data"][0]
    assert set(first) == {
        "id", "nickname", "email", "role", "is_active", "status", "created_at", "last_login_at", "balance",
        "suspended_at", "suspension_reason", "deletion_requested_at",
    }  # fmt: skip
    assert (first["id"], first["email"], first["role"], first["is_active"], first["status"]) == (
        alice["id"], "alice.kim@example.com", "USER", True, "ACTIVE",
    )  # fmt: skip
    assert first["balance"] == 1000 and first["created_at"].endswith("+09:00")

    assert [u["nickname"] for u in _search(client, admin, "q=ali&match=prefix")["data"]] == ["AliceKim"]
    assert [u["nickname"] for u in _search(client, admin, "q=carol@alice.org")["data"]] == ["carol"]
    page = _search(client, admin, "q=alice&limit=1&offset=1")
    assert (page["meta"]["total"], page["meta"]["limit"], page["meta"]["offset"]) == (3, 1, 1)
    assert [u["nickname"] for u in page["data"]] == ["carol"]
    # LIKE's wildcards are plain characters in a search.
    assert _search(client, admin, "q=%25%25")["meta"]["total"] == 0
    assert [u["nickname"] for u in _search(client, admin, "q=e_b")["data"]] == ["malice_bob"]
    assert _search(client, admin, "q=zzz")["data"] == []


def test_search_input_is_validated(client: TestClient) -> None:
    _admin_id, admin = _admin(client)
    for query in (
        "",
        "q=a",
        "q=%20%20a%20",
        "q=" + "x" * 101,
        "q=ab&match=suffix",
        "q=ab&limit=0",
        "q=ab&limit=101",
    ):
        r = client.get(f"/admin/users?{query}", headers=admin)
        assert r.status_code == 422, query
        assert r.json()["success"] is False and error_code(r) == "SYS_422", query


def test_the_search_is_served_by_the_trigram_indexes(db: Session) -> None:
    db.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(
        db.execute(
            text(
                "EXPLAIN SELECT id FROM crypto.users "
                "WHERE email ILIKE '%alice%' ESCAPE '\\' OR nickname ILIKE '%alice%' ESCAPE '\\'"
            )
        ).scalars()
    )
    assert "ix_users_email_trgm" in plan and "ix_users_nickname_trgm" in plan, plan


def _player(client: TestClient, email: str) -> tuple[int, dict[str, Any]]:
    login = dev_login(client, email, nickname=email.split("@")[0].replace(".", "_"))
    return int(login["user"]["id"]), login


def test_a_suspension_stops_the_players_tokens_at_once_and_blocks_refresh_and_sign_in(
    client: TestClient, db: Session
) -> None:
    admin_id, admin = _admin(client)
    user_id, login = _player(client, "suspect@example.com")
    other_session = dev_login(client, "suspect@example.com")  # a second device
    player = bearer(login["access_token"])
    assert client.get("/v1/users/me", headers=player).status_code == 200

    r = client.post(f"/admin/users/{user_id}/suspend", json={"reason": "  chargeback fraud  "}, headers=admin)
    assert r.status_code == 200, r.text
    out = r.json()["data"]
    assert out["changed"] is True and out["revoked_refresh_tokens"] == 2
    user = out["user"]
    assert (user["status"], user["is_active"], user["suspension_reason"]) == (
        "SUSPENDED",
        False,
        "chargeback fraud",
    )
    assert user["suspended_at"].endswith("+09:00")

    # The access token stops working on the next request, and so does the refresh token.
    r = client.get("/v1/users/me", headers=player)
    assert r.status_code == 401 and error_code(r) == "AUTH_001"
    for refresh in (login["refresh_token"], other_session["refresh_token"]):
        r = client.post("/v1/auth/token/refresh", json={"refresh_token": refresh})
        assert r.status_code == 401 and error_code(r) == "AUTH_002"
    r = client.post("/v1/auth/dev-login", json={"email": "suspect@example.com"})
    assert r.status_code == 403 and error_code(r) == "AUTH_005"
    assert (
        count(
            db,
            "SELECT count(*) FROM crypto.refresh_tokens WHERE user_id = :u AND revoked_at IS NULL",
            u=user_id,
        )
        == 0
    )

    audit = db.execute(
        text(
            "SELECT actor, actor_user_id, payload FROM crypto.audit_log "
            "WHERE action = 'user.suspend' AND target = :t"
        ),
        {"t": f"user:{user_id}"},
    ).one()
    assert (audit.actor, audit.actor_user_id) == (f"user:{admin_id}", admin_id)
    assert audit.payload["reason"] == "chargeback fraud" and audit.payload["was_active"] is True

    # Again: idempotent (the first suspension stays, no second audit row).
    r = client.post(f"/admin/users/{user_id}/suspend", json={"reason": "again"}, headers=admin)
    assert r.status_code == 200 and r.json()["data"]["changed"] is False
    assert r.json()["data"]["user"]["suspension_reason"] == "chargeback fraud"
    assert count(db, "SELECT count(*) FROM crypto.audit_log WHERE action = 'user.suspend'") == 1
    found = _search(client, admin, "q=suspect")["data"]
    assert [(u["id"], u["status"]) for u in found] == [(user_id, "SUSPENDED")]


def test_reactivation_restores_the_account(client: TestClient, db: Session) -> None:
    admin_id, admin = _admin(client)
    user_id, _login = _player(client, "comeback.kid@example.com")
    client.post(f"/admin/users/{user_id}/suspend", json={"reason": "investigation"}, headers=admin)

    r = client.post(f"/admin/users/{user_id}/reactivate", json={"reason": "cleared"}, headers=admin)
    assert r.status_code == 200, r.text
    out = r.json()["data"]
    assert out["changed"] is True
    assert (out["user"]["status"], out["user"]["is_active"], out["user"]["suspended_at"]) == (
        "ACTIVE",
        True,
        None,
    )
    login = dev_login(client, "comeback.kid@example.com")
    assert login["reactivated"] is False
    assert client.get("/v1/users/me", headers=bearer(login["access_token"])).status_code == 200
    r = client.post("/v1/auth/token/refresh", json={"refresh_token": login["refresh_token"]})
    assert r.status_code == 200

    payload = db.execute(
        text("SELECT payload FROM crypto.audit_log WHERE action = 'user.reactivate' AND target = :t"),
        {"t": f"user:{user_id}"},
    ).scalar_one()
    assert payload["reason"] == "cleared" and payload["suspension_reason"] == "investigation"
    # Again: nothing to lift.
    r = client.post(f"/admin/users/{user_id}/reactivate", json={"reason": "cleared"}, headers=admin)
    assert r.status_code == 200 and r.json()["data"]["changed"] is False
    assert count(db, "SELECT count(*) FROM crypto.audit_log WHERE action = 'user.reactivate'") == 1


def test_a_suspended_player_who_had_deleted_the_account_is_not_reactivated_by_signing_in(
    client: TestClient, db: Session
) -> None:
    _admin_id, admin = _admin(client)
    user_id, login = _player(client, "evader@example.com")
    assert client.delete("/v1/users/me", headers=bearer(login["access_token"])).status_code == 200
    found = _search(client, admin, "q=evader")["data"]
    assert found[0]["status"] == "DELETION_REQUESTED"

    r = client.post(f"/admin/users/{user_id}/suspend", json={"reason": "ban evasion"}, headers=admin)
    assert r.status_code == 200 and r.json()["data"]["user"]["status"] == "SUSPENDED"
    # Within the grace period signing in would give a deleted account back; not a suspended one.
    r = client.post("/v1/auth/dev-login", json={"email": "evader@example.com"})
    assert r.status_code == 403 and error_code(r) == "AUTH_005"
    row = db.execute(
        text("SELECT is_active, deletion_requested_at FROM crypto.users WHERE id = :u"), {"u": user_id}
    ).one()
    assert row.is_active is False and row.deletion_requested_at is not None

    # Lifting the suspension leaves the player's own deletion as it was: only they undo it.
    r = client.post(f"/admin/users/{user_id}/reactivate", json={"reason": "appeal granted"}, headers=admin)
    out = r.json()["data"]
    assert out["changed"] is True and out["user"]["status"] == "DELETION_REQUESTED"
    assert out["user"]["is_active"] is False
    again = dev_login(client, "evader@example.com")
    assert again["reactivated"] is True


def test_suspension_refusals_change_nothing(client: TestClient, db: Session) -> None:
    admin_id, admin = _admin(client)
    user_id, _login = _player(client, "innocent@example.com")
    snapshot = "SELECT is_active, suspended_at, updated_at FROM crypto.users WHERE id = :u"
    before = db.execute(text(snapshot), {"u": user_id}).one()

    r = client.post(f"/admin/users/{admin_id}/suspend", json={"reason": "oops"}, headers=admin)
    assert r.status_code == 409 and error_code(r) == "USER_002"
    for path in ("suspend", "reactivate"):
        r = client.post(f"/admin/users/999999999/{path}", json={"reason": "nobody"}, headers=admin)
        assert r.status_code == 404 and error_code(r) == "USER_404"
        for body in ({}, {"reason": "no"}, {"reason": "   ab  "}, {"reason": "x" * 501}, {"reason": 12345},
                     {"reason": "fine", "extra": 1}):  # fmt: skip
            r = client.post(f"/admin/users/{user_id}/{path}", json=body, headers=admin)
            assert r.status_code == 422 and error_code(r) == "SYS_422", (path, body)
        r = client.post(f"/admin/users/0/{path}", json={"reason": "zero"}, headers=admin)
        assert r.status_code == 422
    assert db.execute(text(snapshot), {"u": user_id}).one() == before
    assert db.execute(text(snapshot), {"u": admin_id}).one().is_active is True
    assert count(db, "SELECT count(*) FROM crypto.audit_log WHERE action LIKE 'user.%'") == 0

    # An erased account has nothing left to suspend.
    db.execute(text("UPDATE crypto.users SET is_active = false, deletion_requested_at = now(), "
                    "anonymised_at = now() WHERE id = :u"), {"u": user_id})  # fmt: skip
    db.flush()
    r = client.post(f"/admin/users/{user_id}/suspend", json={"reason": "too late"}, headers=admin)
    assert r.status_code == 409 and error_code(r) == "USER_003"
