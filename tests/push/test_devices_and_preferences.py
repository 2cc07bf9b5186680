"""The player's push routes: devices (register idempotently, a token moving between
accounts, list mine, delete mine only) and push preferences (round trip, validation),
each for the caller only."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.support.http import bearer, dev_login, error_code

TOKEN_A = "fcm-token-aaaaaaaaaaaaaaaa:APA91b-ann-phone"
TOKEN_B = "fcm-token-bbbbbbbbbbbbbbbb:APA91b-ann-tablet"


def _player(client: TestClient, email: str) -> tuple[dict[str, str], int]:
    login = dev_login(client, email)
    return bearer(login["access_token"]), int(login["user"]["id"])


def _register(client: TestClient, auth: dict[str, str], token: str, platform: str = "ANDROID") -> Any:
    return client.post("/v1/devices", json={"token": token, "platform": platform}, headers=auth)


def _mine(client: TestClient, auth: dict[str, str]) -> list[dict[str, Any]]:
    r = client.get("/v1/devices", headers=auth)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


def _validation_fields(response: Any) -> set[str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["success"] is False and body["data"] is None
    assert body["error"]["code"] == "SYS_422"
    return {d["field"] for d in body["error"]["details"]}


def test_devices_register_idempotently_move_between_accounts_and_are_deleted_by_their_owner_only(
    client: TestClient, db: Session
) -> None:
    ann_auth, ann = _player(client, "ann.devices@example.com")
    bob_auth, bob = _player(client, "bob.devices@example.com")

    first = _register(client, ann_auth, TOKEN_A)
    assert first.status_code == 201, first.text
    phone = first.json()["data"]
    assert phone["token"] == TOKEN_A and phone["platform"] == "ANDROID"
    assert phone["created_at"].endswith("+09:00")

    # The same token again is the same device (idempotent), its platform updated.
    again = _register(client, ann_auth, TOKEN_A, "IOS")
    assert again.status_code == 201
    assert again.json()["data"]["id"] == phone["id"]
    assert again.json()["data"]["platform"] == "IOS"
    tablet = _register(client, ann_auth, TOKEN_B, "WEB").json()["data"]
    assert {d["id"] for d in _mine(client, ann_auth)} == {phone["id"], tablet["id"]}
    assert _mine(client, bob_auth) == []

    # Bob cannot see or delete Ann's devices: PUSH_404, as for an unknown id.
    for device_id in (phone["id"], 999_999_999):
        r = client.delete(f"/v1/devices/{device_id}", headers=bob_auth)
        assert r.status_code == 404 and error_code(r) == "PUSH_404", r.text
    assert len(_mine(client, ann_auth)) == 2

    # Tokens are globally unique: Bob signing in on Ann's old phone takes the token over,
    # as a new device of his (nothing of Ann's is ever pushed to it again).
    moved = _register(client, bob_auth, TOKEN_A, "ANDROID").json()["data"]
    assert moved["id"] != phone["id"]
    assert [d["id"] for d in _mine(client, bob_auth)] == [moved["id"]]
    assert [d["id"] for d in _mine(client, ann_auth)] == [tablet["id"]]
    owners = db.execute(
        text("SELECT user_id FROM crypto.push_devices WHERE token = :t"), {"t": TOKEN_A}
    ).all()
    assert [r[0] for r in owners] == [bob]

    # Ann deletes her tablet; deleting it again is PUSH_404.
    deleted = client.delete(f"/v1/devices/{tablet['id']}", headers=ann_auth)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["data"] == {"id": tablet["id"], "deleted": True}
    assert _mine(client, ann_auth) == []
    assert error_code(client.delete(f"/v1/devices/{tablet['id']}", headers=ann_auth)) == "PUSH_404"
    assert ann != bob


def test_device_routes_need_a_token_and_a_well_formed_body(client: TestClient) -> None:
    auth, _ = _player(client, "cid.devices@example.com")
    for method, path in (("POST", "/v1/devices"), ("GET", "/v1/devices"), ("DELETE", "/v1/devices/1")):
        r = client.request(method, path, json={"token": TOKEN_A, "platform": "ANDROID"})
        assert r.status_code == 401 and error_code(r) == "AUTH_001", (method, r.text)
    assert _validation_fields(_register(client, auth, TOKEN_A, "BLACKBERRY")) == {"platform"}
    assert _validation_fields(_register(client, auth, "has a space in it", "IOS")) == {"token"}
    assert _validation_fields(_register(client, auth, "short", "IOS")) == {"token"}
    r = client.post("/v1/devices", json={"token": TOKEN_A, "platform": "IOS", "extra": 1}, headers=auth)
    assert _validation_fields(r) == {"extra"}
    assert _validation_fields(client.delete("/v1/devices/0", headers=auth)) == {"device_id"}
    assert _mine(client, auth) == []  # nothing was registered by the refused requests


def test_a_player_keeps_at_most_the_configured_number_of_devices(client: TestClient) -> None:
    auth, _ = _player(client, "dee.devices@example.com")
    limit = client.app.state.container.settings().push_max_devices_per_user  # type: ignore[attr-defined]
    ids = [_register(client, auth, f"token-{i:04d}-xxxxxxxx").json()["data"]["id"] for i in range(limit + 1)]
    kept = {d["id"] for d in _mine(client, auth)}
    assert len(kept) == limit
    assert ids[0] not in kept  # the least recently seen one went
    assert ids[-1] in kept


DEFAULTS = {
    "categories": {"SETTLEMENT": True, "REWARD": True, "STREAK": True, "CALENDAR": True},
    "quiet_hours": {"start": "22:00", "end": "08:00"},
    "timezone": "Asia/Seoul",
    "customised": False,
}


def test_preferences_round_trip_for_the_caller_only(client: TestClient) -> None:
    ann_auth, _ = _player(client, "ann.prefs@example.com")
    bob_auth, _ = _player(client, "bob.prefs@example.com")
    url = "/v1/notifications/preferences"

    got = client.get(url, headers=ann_auth)
    assert got.status_code == 200, got.text
    assert got.json()["data"] == DEFAULTS  # nothing saved: the settings' defaults

    body = {
        "categories": {"STREAK": False, "REWARD": True},
        "quiet_hours": {"start": "23:30", "end": "07:15"},
    }
    put = client.put(url, json=body, headers=ann_auth)
    assert put.status_code == 200, put.text
    expected = {
        "categories": {"SETTLEMENT": True, "REWARD": True, "STREAK": False, "CALENDAR": True},
        "quiet_hours": {"start": "23:30", "end": "07:15"},
        "timezone": "Asia/Seoul",
        "customised": True,
    }
    assert put.json()["data"] == expected
    assert client.get(url, headers=ann_auth).json()["data"] == expected
    assert client.get(url, headers=bob_auth).json()["data"] == DEFAULTS  # Bob's are his own

    # null quiet hours: none at all (not the defaults); a window inside one day works too.
    none = client.put(url, json={"categories": {"SETTLEMENT": False}, "quiet_hours": None}, headers=ann_auth)
    assert none.json()["data"]["quiet_hours"] is None
    assert none.json()["data"]["categories"] == {
        "SETTLEMENT": False, "REWARD": True, "STREAK": True, "CALENDAR": True,
    }  # fmt: skip
    day = client.put(
        url, json={"categories": {}, "quiet_hours": {"start": "13:00", "end": "14:00"}}, headers=ann_auth
    )
    assert day.json()["data"]["quiet_hours"] == {"start": "13:00", "end": "14:00"}

    # The inbox routes under /v1/notifications still work beside it.
    assert client.get("/v1/notifications", headers=ann_auth).status_code == 200
    assert client.get("/v1/notifications/unread-count", headers=ann_auth).status_code == 200


def test_preferences_refuse_malformed_bodies_with_the_validation_envelope(client: TestClient) -> None:
    auth, _ = _player(client, "cid.prefs@example.com")
    url = "/v1/notifications/preferences"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"categories": {"NEWS": False}, "quiet_hours": None}, "categories.NEWS.[key]"),
        ({"categories": {"REWARD": "no"}, "quiet_hours": None}, "categories.REWARD"),
        ({"categories": {}, "quiet_hours": {"start": "24:00", "end": "08:00"}}, "quiet_hours.start"),
        ({"categories": {}, "quiet_hours": {"start": "9:00", "end": "08:00"}}, "quiet_hours.start"),
        ({"categories": {}, "quiet_hours": {"start": "08:00", "end": "08:00"}}, "quiet_hours"),
        ({"categories": {}}, "quiet_hours"),
        ({"quiet_hours": None}, "categories"),
        ({"categories": {}, "quiet_hours": None, "timezone": "UTC"}, "timezone"),
    ]
    for body, field in cases:
        r = client.put(url, json=body, headers=auth)
        assert field in _validation_fields(r), (body, r.json()["error"]["details"])
    # Nothing was saved by the refused requests; without a token it is 401.
    assert client.get(url, headers=auth).json()["data"] == DEFAULTS
    for method in ("GET", "PUT"):
        r = client.request(method, url, json={"categories": {}, "quiet_hours": None})
        assert r.status_code == 401 and error_code(r) == "AUTH_001"
