"""Every operator-tool route is ADMIN only: a player gets 403, no token 401, and nothing
runs (no job, no queue call, no change)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from myapi.admin.ops_router import router
from tests.support.db import count
from tests.support.http import bearer, dev_login, error_code

CALLS: list[tuple[str, str, dict[str, object] | None]] = [
    ("POST", "/admin/eod/backfill", {"from": "2026-11-16", "to": "2026-11-20"}),
    ("GET", "/admin/eod/backfill/1", None),
    ("GET", "/admin/queues", None),
    ("GET", "/admin/queues/eod_fetch/dlq", None),
    ("POST", "/admin/queues/eod_fetch/dlq/redrive", {"limit": 10}),
    ("GET", "/admin/users?q=player", None),
    ("POST", "/admin/users/{victim}/suspend", {"reason": "not yours to do"}),
    ("POST", "/admin/users/{victim}/reactivate", {"reason": "not yours to do"}),
]


def test_every_route_of_the_router_is_listed_here() -> None:
    listed = {(method, path.split("?")[0]) for method, path, _ in CALLS}
    routes = {
        (
            method,
            route.path.replace("{backfill_id}", "1")
            .replace("{key}", "eod_fetch")
            .replace("{user_id}", "{victim}"),
        )
        for route in router.routes
        for method in getattr(route, "methods", ())
    }
    assert routes == listed


def test_a_player_gets_403_and_no_token_401_on_every_route(client: TestClient, db: Session) -> None:
    player = dev_login(client, "ops.player@example.com")
    victim = dev_login(client, "ops.victim@example.com")["user"]["id"]
    headers = bearer(player["access_token"])
    for method, path, body in CALLS:
        url = path.replace("{victim}", str(victim))
        r = client.request(method, url, json=body, headers=headers)
        assert r.status_code == 403, (method, url, r.text)
        assert r.json()["success"] is False and error_code(r) == "AUTH_003"
        r = client.request(method, url, json=body)
        assert r.status_code == 401 and error_code(r) == "AUTH_001", (method, url)
    assert count(db, "SELECT count(*) FROM crypto.job_runs") == 0
    assert count(db, "SELECT count(*) FROM crypto.outbox") == 0
    assert count(db, "SELECT count(*) FROM crypto.users WHERE NOT is_active") == 0
