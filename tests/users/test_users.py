from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.core.config import Settings
from myapi.main import create_app
from tests.support.http import bearer, dev_login
from tests.support.production import PRODUCTION_OK


def test_me_shows_my_profile_and_balance(client: TestClient) -> None:
    login = dev_login(client, "Me@Example.com", nickname="meme")
    r = client.get("/v1/users/me", headers=bearer(login["access_token"]))
    assert r.status_code == 200
    me = r.json()["data"]
    assert me["email"] == "me@example.com"
    assert me["nickname"] == "meme"
    assert me["points_balance"] == 1000
    assert me["role"] == "USER"
    assert me["created_at"].endswith("+09:00")


def test_change_nickname(client: TestClient) -> None:
    login = dev_login(client, "nick@example.com")
    r = client.patch("/v1/users/me", json={"nickname": "새이름_1"}, headers=bearer(login["access_token"]))
    assert r.status_code == 200
    assert r.json()["data"]["nickname"] == "새이름_1"


def test_nickname_taken_is_409_and_invalid_is_422(client: TestClient) -> None:
    dev_login(client, "first@example.com", nickname="taken")
    login = dev_login(client, "second@example.com")
    auth = bearer(login["access_token"])
    r = client.patch("/v1/users/me", json={"nickname": "taken"}, headers=auth)
    assert r.status_code == 409 and r.json()["error"]["code"] == "USER_001"
    for bad in ("x", "has space", "a" * 31, "<script>"):
        r = client.patch("/v1/users/me", json={"nickname": bad}, headers=auth)
        assert r.status_code == 422, bad
    r = client.patch("/v1/users/me", json={"nickname": "ok_name", "role": "ADMIN"}, headers=auth)
    assert r.status_code == 422  # extra fields are refused, not ignored
    assert client.get("/v1/users/me", headers=auth).json()["data"]["nickname"] != "taken"


def test_deleting_my_account_stops_my_tokens_at_once(client: TestClient, db: Session) -> None:
    login = dev_login(client, "leaver@example.com")
    auth = bearer(login["access_token"])
    r = client.delete("/v1/users/me", headers=auth)
    assert r.status_code == 200
    assert r.json()["data"]["deactivated"] is True and r.json()["data"]["anonymise_at"].endswith("+09:00")
    assert client.get("/v1/users/me", headers=auth).status_code == 401
    r = client.post("/v1/auth/token/refresh", json={"refresh_token": login["refresh_token"]})
    assert r.status_code == 401
    row = db.execute(
        text(
            "SELECT is_active, deactivated_at IS NOT NULL, deletion_requested_at IS NOT NULL "
            "FROM crypto.users WHERE email='leaver@example.com'"
        )
    ).one()
    assert tuple(row) == (False, True, True)


def test_an_account_an_operator_deactivated_cannot_sign_in(client: TestClient, db: Session) -> None:
    dev_login(client, "suspended@example.com")
    db.execute(text("UPDATE crypto.users SET is_active = false, deactivated_at = now() WHERE email = :e"),
               {"e": "suspended@example.com"})  # fmt: skip
    db.flush()
    r = client.post("/v1/auth/dev-login", json={"email": "suspended@example.com"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "AUTH_004"


def test_admin_can_look_up_users_and_change_roles_with_audit(client: TestClient, db: Session) -> None:
    admin = dev_login(client, "boss@example.com", role="ADMIN")
    player = dev_login(client, "pawn@example.com")
    pid = player["user"]["id"]
    r = client.get(f"/admin/users/{pid}", headers=bearer(admin["access_token"]))
    assert r.status_code == 200 and r.json()["data"]["points_balance"] == 1000
    r = client.patch(
        f"/admin/users/{pid}/role",
        json={"role": "ADMIN", "reason": "on-call operator"},
        headers=bearer(admin["access_token"]),
    )
    assert r.status_code == 200 and r.json()["data"]["role"] == "ADMIN"
    audit = db.execute(
        text(
            "SELECT actor_user_id, action, target, payload FROM crypto.audit_log WHERE action='user.set_role'"
        )
    ).one()
    assert audit.actor_user_id == admin["user"]["id"]
    assert audit.target == f"user:{pid}"
    assert audit.payload == {"from": "USER", "to": "ADMIN", "reason": "on-call operator"}
    # The promotion applies to the player's existing token at once (role read from the DB).
    assert client.get(f"/admin/users/{pid}", headers=bearer(player["access_token"])).status_code == 200
    r = client.get("/admin/users/999999", headers=bearer(admin["access_token"]))
    assert r.status_code == 404 and r.json()["error"]["code"] == "USER_404"


def test_role_change_requires_a_reason(client: TestClient) -> None:
    admin = dev_login(client, "boss2@example.com", role="ADMIN")
    r = client.patch(
        f"/admin/users/{admin['user']['id']}/role",
        json={"role": "USER"},
        headers=bearer(admin["access_token"]),
    )
    assert r.status_code == 422


def test_dev_login_is_absent_in_production(settings: Settings) -> None:
    prod = Settings(  # type: ignore[call-arg]
        _env_file=None,
        **{
            **PRODUCTION_OK,
            "database_url": settings.database_url,
            "sqs_endpoint_url": settings.sqs_endpoint_url,
        },
    )
    app = create_app(prod)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/v1/auth/dev-login", json={"email": "x@example.com"})
        assert r.status_code == 404
        # Production serves no /openapi.json (API_DOCS_PUBLIC); the document is still built.
        assert "/v1/auth/dev-login" not in app.openapi()["paths"]
