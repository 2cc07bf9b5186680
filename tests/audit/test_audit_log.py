"""The audit log: every /admin and /internal write request leaves one row (actor, action,
target, payload, request id, status), whatever it answered; the scheduler's cycle steps
leave theirs; GET /admin/audit filters and pages them, for an ADMIN only."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.audit.service import REDACTED, redact
from myapi.container import Container
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from tests.internal.test_vendor_webhook import send_vendor_event
from tests.support.http import bearer, dev_login, error_code, internal

WRITE_METHODS = ("post", "put", "patch", "delete")
VENDOR_PATH = "/internal/vendor/eod-event"
SAMPLE = {"date": "2026-11-23", "date-time": "2026-11-23T00:00:00Z"}


def _write_operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) of every /admin and /internal write in the OpenAPI."""
    found = []
    for path, item in app.openapi()["paths"].items():
        if path.startswith(("/admin/", "/internal/")):
            for method in WRITE_METHODS:
                if method in item:
                    found.append((method, path, item[method]))
    return found


def _concrete(path: str, operation: dict[str, Any]) -> str:
    """The path with each parameter given a value of its type."""
    values = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            schema = parameter.get("schema", {})
            if schema.get("type") == "integer":
                values[parameter["name"]] = "1"
            else:
                values[parameter["name"]] = SAMPLE.get(schema.get("format", ""), "AAPL")
    return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), "1"), path)


def _audit_rows(db: Session, request_id: str) -> list[Any]:
    return list(
        db.execute(
            text(
                "SELECT actor, actor_user_id, action, target, payload, status FROM crypto.audit_log "
                "WHERE request_id = :r AND status IS NOT NULL"
            ),
            {"r": request_id},
        )
    )


def test_every_write_route_in_the_openapi_leaves_one_audit_row_per_call(
    app: FastAPI, client: TestClient, db: Session, settings: Settings, clock: FrozenClock
) -> None:
    """Each write route called once by its rightful caller, with a body it must refuse
    (a JSON array where an object is expected) where it takes one, so nothing is
    changed; the row names the route, the caller and the answer. (A body that is not
    JSON at all is refused before the guards run, by no one identified: not audited.)"""
    operations = _write_operations(app)
    assert len(operations) >= 15, "the app's admin and internal writes"
    admin = dev_login(client, "audit.walk@example.com", role="ADMIN")
    admin_id = admin["user"]["id"]
    missing = []
    for method, template, operation in operations:
        path = _concrete(template, operation)
        if template == VENDOR_PATH:
            r = send_vendor_event(client, settings, clock, b"[]")
            expected_actor, expected_id = "internal:vendor", None
        else:
            headers = bearer(admin["access_token"]) if template.startswith("/admin/") else internal(settings)
            body = {"content": b"[]", "headers": {**headers, "Content-Type": "application/json"}}
            if "requestBody" not in operation:
                body = {"headers": headers}
            r = client.request(method.upper(), path, **body)
            expected_actor, expected_id = (
                (f"user:{admin_id}", admin_id) if template.startswith("/admin/") else ("internal:token", None)
            )
        assert r.status_code < 500, (method, path, r.text)
        rows = _audit_rows(db, r.headers["x-request-id"])
        area = template.strip("/").split("/")[0]
        if len(rows) != 1:
            missing.append((method, template, r.status_code, len(rows)))
            continue
        row = rows[0]
        assert (row.actor, row.actor_user_id, row.status) == (expected_actor, expected_id, r.status_code)
        assert row.action.startswith(f"{area}.") and row.payload["route"] == template
        assert row.payload["method"] == method.upper() and row.payload["path"] == path
    assert missing == [], "write routes without exactly one audit row"


def test_an_admin_write_records_actor_target_payload_and_the_request_id(
    client: TestClient, db: Session
) -> None:
    admin = dev_login(client, "audit.adjust.admin@example.com", role="ADMIN")
    player = dev_login(client, "audit.adjust.player@example.com")
    player_id = player["user"]["id"]
    r = client.post(
        f"/admin/users/{player_id}/adjust-points",
        json={"delta": 25, "reason": "support ticket 42"},
        headers={**bearer(admin["access_token"]), "X-Request-ID": "audit-test-req-1"},
    )
    assert r.status_code == 200, r.text
    [row] = _audit_rows(db, "audit-test-req-1")
    assert row.actor == f"user:{admin['user']['id']}" and row.actor_user_id == admin["user"]["id"]
    assert (row.action, row.target, row.status) == ("admin.adjust_points", f"user:{player_id}", 200)
    assert row.payload["body"] == {"delta": 25, "reason": "support ticket 42"}
    # The domain record of the same change carries the same request id.
    domain = db.execute(
        text("SELECT action FROM crypto.audit_log WHERE request_id = :r AND status IS NULL"),
        {"r": "audit-test-req-1"},
    ).scalars()
    assert list(domain) == ["points.adjust"]


def test_a_refused_call_is_audited_with_its_status_and_changes_nothing(
    client: TestClient, db: Session
) -> None:
    admin = dev_login(client, "audit.refused.admin@example.com", role="ADMIN")
    player = dev_login(client, "audit.refused.player@example.com")
    player_id = player["user"]["id"]
    # A player trying an admin write: 403, audited under the player's id.
    r = client.post(
        f"/admin/users/{player_id}/adjust-points",
        json={"delta": 10**6, "reason": "free money"},
        headers=bearer(player["access_token"]),
    )
    assert r.status_code == 403
    [row] = _audit_rows(db, r.headers["x-request-id"])
    assert (row.actor, row.status, row.action) == (f"user:{player_id}", 403, "admin.adjust_points")
    # An admin's invalid write: 422, audited, nothing else written.
    r = client.post(
        f"/admin/users/{player_id}/adjust-points",
        json={"delta": True, "reason": "bool is not an int"},
        headers=bearer(admin["access_token"]),
    )
    assert r.status_code == 422 and error_code(r) == "SYS_422"
    [row] = _audit_rows(db, r.headers["x-request-id"])
    assert row.status == 422
    ledger = db.execute(
        text("SELECT count(*) FROM crypto.points_ledger WHERE user_id = :u"), {"u": player_id}
    ).scalar_one()
    assert ledger == 1  # the signup bonus only


def test_anonymous_calls_are_not_audited(client: TestClient, db: Session) -> None:
    """No or a bad token: 401, in the access log but not the audit table (a flood of
    them cannot fill it)."""
    r = client.post("/admin/users/1/adjust-points", json={"delta": 1, "reason": "anon"})
    assert r.status_code == 401
    r2 = client.post("/internal/cycle/tick", headers={"X-Internal-Token": "wrong"})
    assert r2.status_code == 403
    for response in (r, r2):
        assert _audit_rows(db, response.headers["x-request-id"]) == []


def test_secrets_in_a_body_are_redacted() -> None:
    body = {"reason": "rotate", "nested": [{"access_token": "abc", "keep": 1}], "Client_Secret": "x"}
    assert redact(body) == {
        "reason": "rotate",
        "nested": [{"access_token": REDACTED, "keep": 1}],
        "Client_Secret": REDACTED,
    }


def test_the_scheduler_steps_are_audited(container: Container, db: Session, clock: FrozenClock) -> None:
    """The tick on a fresh system opens the day: one `cycle.open` row by the cycle."""
    result = container.jobs().tick()
    steps = [a["step"] for a in result.details["actions"]]
    assert "open" in steps
    rows = db.execute(
        text(
            "SELECT actor, action, target, payload FROM crypto.audit_log "
            "WHERE actor = 'internal:cycle' AND action LIKE 'cycle.%' ORDER BY id"
        )
    ).all()
    assert [r.action for r in rows] == [f"cycle.{s}" for s in steps]
    opened = next(r for r in rows if r.action == "cycle.open")
    assert opened.target == f"day:{clock.now().date().isoformat()}"
    assert isinstance(opened.payload["run_id"], int)
    # Each later tick adds a row per step it takes, and none when nothing is due.
    again = [a["step"] for a in container.jobs().tick().details["actions"]]
    clock.advance(timedelta(seconds=30))
    assert container.jobs().tick().details["actions"] == []
    total = db.execute(
        text("SELECT count(*) FROM crypto.audit_log WHERE actor = 'internal:cycle' AND action LIKE 'cycle.%'")
    ).scalar_one()
    assert total == len(steps) + len(again)


@pytest.fixture
def audited(client: TestClient) -> tuple[dict[str, Any], int]:
    """An admin and three audited adjustments of two players."""
    admin = dev_login(client, "audit.search.admin@example.com", role="ADMIN")
    players = [dev_login(client, f"audit.search.p{i}@example.com")["user"]["id"] for i in range(2)]
    for player_id, delta in ((players[0], 5), (players[0], 6), (players[1], 7)):
        r = client.post(
            f"/admin/users/{player_id}/adjust-points",
            json={"delta": delta, "reason": "search fixture"},
            headers=bearer(admin["access_token"]),
        )
        assert r.status_code == 200, r.text
    return admin, players[0]


def test_the_audit_log_is_searchable_and_paginated(
    client: TestClient, audited: tuple[dict[str, Any], int], clock: FrozenClock
) -> None:
    admin, first = audited
    headers = bearer(admin["access_token"])
    actor = f"user:{admin['user']['id']}"
    r = client.get("/admin/audit", params={"actor": actor, "action": "admin.adjust_points"}, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meta"]["total"] == 3
    assert [row["payload"]["body"]["delta"] for row in body["data"]] == [7, 6, 5]  # newest first
    assert all(row["status"] == 200 and row["request_id"] for row in body["data"])
    r = client.get(
        "/admin/audit", params={"target": f"user:{first}", "action": "admin.adjust_points"}, headers=headers
    )
    assert r.json()["meta"]["total"] == 2
    r = client.get("/admin/audit", params={"target": "user:", "action": "points.adjust"}, headers=headers)
    assert r.json()["meta"]["total"] == 3  # a prefix: every user
    r = client.get("/admin/audit", params={"actor": actor, "limit": 2, "offset": 2}, headers=headers)
    page = r.json()
    assert page["meta"]["total"] >= 6 and len(page["data"]) == 2  # request rows and domain rows
    now = clock.now()
    window = {
        "from": (now - timedelta(minutes=1)).isoformat(),
        "to": (now + timedelta(minutes=1)).isoformat(),
    }
    assert (
        client.get("/admin/audit", params={**window, "actor": actor}, headers=headers).json()["meta"]["total"]
        >= 6
    )
    later = {"from": (now + timedelta(minutes=1)).isoformat(), "actor": actor}
    assert client.get("/admin/audit", params=later, headers=headers).json()["meta"]["total"] == 0


@pytest.mark.parametrize(
    "params",
    [{"actor": "user:\x00"}, {"from": "2026-11-23T00:00:00"}, {"limit": 0}, {"action": ""}],
    ids=["nul-byte", "naive-datetime", "zero-limit", "empty-action"],
)
def test_a_bad_audit_query_is_422(client: TestClient, params: dict[str, Any]) -> None:
    admin = dev_login(client, "audit.bad.admin@example.com", role="ADMIN")
    r = client.get("/admin/audit", params=params, headers=bearer(admin["access_token"]))
    assert r.status_code == 422, r.text
    assert error_code(r) == "SYS_422"


def test_only_an_admin_reads_the_audit_log(client: TestClient) -> None:
    player = dev_login(client, "audit.reader.player@example.com")
    assert client.get("/admin/audit").status_code == 401
    r = client.get("/admin/audit", headers=bearer(player["access_token"]))
    assert r.status_code == 403 and error_code(r) == "AUTH_003"
