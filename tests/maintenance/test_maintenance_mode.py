"""Maintenance mode: an operator switch; while on, player writes answer 503 MAINT_001
with Retry-After and change nothing, reads go on, sign-in stays open, /admin and the
pipeline keep running."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.container import Container
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.main import create_app
from tests.support.factories import open_day
from tests.support.http import bearer, dev_login, error_code, internal
from tests.support.slots import submit


@pytest.fixture
def client(container: Container, settings: Settings) -> Iterator[TestClient]:
    """The app reading the switch on every player write (no cache), as the toggle tests need."""
    container.settings.override(settings.model_copy(update={"maintenance_cache_s": 0}))
    with TestClient(create_app(container=container), raise_server_exceptions=False) as test_client:
        yield test_client


def _switch(client: TestClient, token: str, **body: Any) -> Any:
    return client.put("/admin/maintenance", json=body, headers=bearer(token))


def _predictions(db: Session, user_id: int) -> int:
    return int(
        db.execute(
            text("SELECT count(*) FROM crypto.predictions WHERE user_id = :u"), {"u": user_id}
        ).scalar_one()
    )


def test_maintenance_blocks_player_writes_only(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings
) -> None:
    open_day(db, clock, settings)
    admin = dev_login(client, "maint.admin@example.com", role="ADMIN")
    player = dev_login(client, "maint.player@example.com")
    token, player_id = player["access_token"], player["user"]["id"]
    assert (
        client.get("/admin/maintenance", headers=bearer(admin["access_token"])).json()["data"]["enabled"]
        is False
    )

    r = _switch(
        client, admin["access_token"], enabled=True, message="Upgrading the database", retry_after_s=120
    )
    assert r.status_code == 200, r.text
    state = r.json()["data"]
    assert state["enabled"] is True and state["updated_by"] == f"user:{admin['user']['id']}"

    status, body = submit(client, token, "AAPL")
    assert status == 503 and body["error"]["code"] == "MAINT_001"
    assert body["error"]["message"] == "Upgrading the database"
    assert body["error"]["details"] == {"retry_after_s": 120}
    r = client.delete("/v1/predictions/AAPL", headers=bearer(token))
    assert r.status_code == 503 and r.headers["retry-after"] == "120" and r.headers["x-request-id"]
    assert _predictions(db, player_id) == 0  # nothing written

    # Reads keep working, and so do sign-in, /admin and /internal.
    assert client.get("/v1/users/me", headers=bearer(token)).status_code == 200
    assert client.get("/v1/predictions/me", headers=bearer(token)).status_code == 200
    assert dev_login(client, "maint.newcomer@example.com")["user"]["id"]
    r = client.post(
        f"/admin/users/{player_id}/adjust-points",
        json={"delta": 5, "reason": "still works"},
        headers=bearer(admin["access_token"]),
    )
    assert r.status_code == 200, r.text
    assert client.post("/internal/cycle/tick", headers=internal(settings)).status_code == 200

    r = _switch(client, admin["access_token"], enabled=False)
    assert r.status_code == 200 and r.json()["data"]["enabled"] is False
    status, body = submit(client, token, "AAPL")
    assert status == 202, body
    assert _predictions(db, player_id) == 1


def test_the_switch_is_audited(client: TestClient, db: Session) -> None:
    admin = dev_login(client, "maint.audit@example.com", role="ADMIN")
    r = _switch(client, admin["access_token"], enabled=True)
    assert r.status_code == 200
    row = db.execute(
        text("SELECT actor, action, payload FROM crypto.audit_log WHERE request_id = :r"),
        {"r": r.headers["x-request-id"]},
    ).one()
    assert row.action == "admin.set_maintenance" and row.payload["body"] == {"enabled": True}


@pytest.mark.parametrize(
    "body",
    [{"enabled": "yes"}, {"enabled": 1}, {}, {"enabled": True, "retry_after_s": 0},
     {"enabled": True, "message": "bad\x00byte"}, {"enabled": True, "extra": 1}],
    ids=["string", "integer", "missing", "zero-retry", "nul-byte", "extra-field"],
)  # fmt: skip
def test_a_bad_switch_is_422_and_changes_nothing(client: TestClient, body: dict[str, Any]) -> None:
    admin = dev_login(client, "maint.bad@example.com", role="ADMIN")
    r = _switch(client, admin["access_token"], **body)
    assert r.status_code == 422, r.text
    assert error_code(r) == "SYS_422"
    assert (
        client.get("/admin/maintenance", headers=bearer(admin["access_token"])).json()["data"]["enabled"]
        is False
    )


def test_only_an_admin_flips_the_switch(client: TestClient) -> None:
    player = dev_login(client, "maint.sneaky@example.com")
    r = _switch(client, player["access_token"], enabled=True)
    assert r.status_code == 403 and error_code(r) == "AUTH_003"
    assert client.put("/admin/maintenance", json={"enabled": True}).status_code == 401
    assert client.get("/admin/maintenance", headers=bearer(player["access_token"])).status_code == 403
