"""Refresh tokens: rotation on every use, reuse detection revoking the whole family,
expiry, logout."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.core.clock import FrozenClock
from tests.support.http import bearer, dev_login


def refresh(client: TestClient, token: str) -> tuple[int, dict[str, object]]:
    r = client.post("/v1/auth/token/refresh", json={"refresh_token": token})
    return r.status_code, r.json()


def test_refresh_rotates_the_token(client: TestClient) -> None:
    login = dev_login(client, "rot@example.com")
    status, body = refresh(client, login["refresh_token"])
    assert status == 200
    data = body["data"]
    assert isinstance(data, dict)
    assert data["refresh_token"] != login["refresh_token"]
    assert client.get("/v1/users/me", headers=bearer(str(data["access_token"]))).status_code == 200
    # The new one works once more.
    assert refresh(client, str(data["refresh_token"]))[0] == 200


def test_reusing_a_rotated_token_revokes_the_whole_family(client: TestClient, db: Session) -> None:
    login = dev_login(client, "reuse@example.com")
    first = login["refresh_token"]
    _, body = refresh(client, first)
    second = body["data"]["refresh_token"]  # type: ignore[index]
    _, body = refresh(client, second)
    third = body["data"]["refresh_token"]  # type: ignore[index]

    status, body = refresh(client, first)  # an attacker replays a stolen, rotated token
    assert status == 401
    assert body["error"]["code"] == "AUTH_002"  # type: ignore[index]
    # The legitimate holder's current token is dead too: the family is revoked...
    assert refresh(client, third)[0] == 401
    # ...and the revocation was committed although the reuse request failed.
    open_tokens = db.execute(
        text(
            "SELECT count(*) FROM crypto.refresh_tokens t JOIN crypto.users u ON u.id = t.user_id "
            "WHERE u.email = 'reuse@example.com' AND t.revoked_at IS NULL"
        )
    ).scalar_one()
    assert open_tokens == 0


def test_another_login_is_another_family(client: TestClient) -> None:
    phone = dev_login(client, "two@example.com")
    laptop = dev_login(client, "two@example.com")
    _, body = refresh(client, phone["refresh_token"])
    assert refresh(client, phone["refresh_token"])[0] == 401  # reuse kills the phone family
    assert refresh(client, laptop["refresh_token"])[0] == 200  # the laptop is untouched


def test_expired_refresh_token_is_rejected(client: TestClient, clock: FrozenClock) -> None:
    login = dev_login(client, "old@example.com")
    clock.advance(timedelta(days=7, seconds=1))
    status, body = refresh(client, login["refresh_token"])
    assert status == 401 and body["error"]["code"] == "AUTH_002"  # type: ignore[index]


def test_unknown_refresh_token_is_rejected(client: TestClient) -> None:
    status, body = refresh(client, "not-a-token")
    assert status == 401 and body["error"]["code"] == "AUTH_002"  # type: ignore[index]


def test_logout_revokes_the_family(client: TestClient) -> None:
    login = dev_login(client, "bye@example.com")
    r = client.post(
        "/v1/auth/logout",
        json={"refresh_token": login["refresh_token"]},
        headers=bearer(login["access_token"]),
    )
    assert r.status_code == 200 and r.json()["data"]["revoked"] == 1
    assert refresh(client, login["refresh_token"])[0] == 401
    # Logging out again is harmless: that login's access token died with it (401), and
    # from another login of the player there is nothing left to revoke.
    again = client.post(
        "/v1/auth/logout",
        json={"refresh_token": login["refresh_token"]},
        headers=bearer(login["access_token"]),
    )
    assert again.status_code == 401 and again.json()["error"]["code"] == "AUTH_001"
    other = dev_login(client, "bye@example.com")
    again = client.post(
        "/v1/auth/logout",
        json={"refresh_token": login["refresh_token"]},
        headers=bearer(other["access_token"]),
    )
    assert again.status_code == 200 and again.json()["data"]["revoked"] == 0


def test_logout_cannot_touch_another_players_tokens(client: TestClient) -> None:
    alice = dev_login(client, "alice.lo@example.com")
    mallory = dev_login(client, "mallory@example.com")
    r = client.post(
        "/v1/auth/logout",
        json={"refresh_token": alice["refresh_token"]},
        headers=bearer(mallory["access_token"]),
    )
    assert r.json()["data"]["revoked"] == 0
    assert refresh(client, alice["refresh_token"])[0] == 200


def test_logout_requires_an_access_token(client: TestClient) -> None:
    r = client.post("/v1/auth/logout", json={"refresh_token": "x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "AUTH_001"
