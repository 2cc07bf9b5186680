"""Every route is guarded as its prefix demands: walk app.routes and prove it, statically
(the guard dependency is there) and over HTTP (the negative cases)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import RouteContext, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from myapi.adminui.router import router as admin_ui_router
from myapi.auth.guards import PUBLIC_ROUTES, current_user, unguarded_routes
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.playerui.router import router as player_ui_router
from tests.support.http import bearer, dev_login

# The documented exceptions: the console's page and assets (myapi/adminui/router.py, the
# one exception to "every /admin route requires ADMIN") and the player page at / with its
# assets (myapi/playerui/router.py) serve the same static files to anyone and reach no
# data; every figure on them comes from the guarded /admin or /v1 API, called with the
# user's own token. tests/adminui and tests/playerui (test_static_files.py) prove these
# routes answer GET only and depend on no session, service or guard.
STATIC_UI_ENDPOINTS = {
    getattr(route, "endpoint", None)
    for router in (admin_ui_router, player_ui_router)
    for route in router.routes
}


def _api_routes(app: FastAPI) -> list[RouteContext]:
    """Every route but the static files of the console and the player page."""
    return [r for r in iter_route_contexts(list(app.routes)) if r.endpoint not in STATIC_UI_ENDPOINTS]


def _routes(app: FastAPI, prefix: str) -> list[tuple[str, str]]:
    found = []
    for route in _api_routes(app):
        if route.path and route.path.startswith(prefix):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    found.append((method, route.path))
    return found


VENDOR_ROUTES = {"/internal/vendor/eod-event"}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_has_the_guard_its_prefix_demands(app: FastAPI) -> None:
    assert unguarded_routes(_api_routes(app)) == []


def test_the_checker_catches_unguarded_routes(app: FastAPI) -> None:
    leaky = APIRouter()

    @leaky.get("/admin/leak")
    def admin_leak() -> dict[str, str]:
        return {}

    @leaky.post("/internal/leak", dependencies=[Depends(current_user)])
    def internal_leak() -> dict[str, str]:
        return {}

    @leaky.get("/v1/leak")
    def player_leak() -> dict[str, str]:
        return {}

    @leaky.get("/elsewhere")
    def elsewhere() -> dict[str, str]:
        return {}

    app.include_router(leaky)
    problems = unguarded_routes(_api_routes(app))
    assert len(problems) == 4
    assert any("GET /admin/leak" in p for p in problems)
    assert any("POST /internal/leak: needs require_internal, has user" in p for p in problems)
    assert any("GET /v1/leak" in p for p in problems)
    assert any("GET /elsewhere" in p for p in problems)


def test_admin_routes_need_an_admin(app: FastAPI, client: TestClient) -> None:
    routes = _routes(app, "/admin")
    assert routes, "the app has admin routes"
    player = dev_login(client, "player.ac@example.com")
    for method, path in routes:
        r = client.request(method, _concrete(path))
        assert r.status_code == 401, (method, path)
        assert r.json()["error"]["code"] == "AUTH_001"
        r = client.request(method, _concrete(path), headers=bearer(player["access_token"]))
        assert r.status_code == 403, (method, path)
        assert r.json()["error"]["code"] == "AUTH_003"


def test_internal_routes_need_the_internal_token(app: FastAPI, client: TestClient) -> None:
    routes = _routes(app, "/internal")
    assert routes
    admin = dev_login(client, "admin.ac@example.com", role="ADMIN")
    for method, path in routes:
        url = _concrete(path)
        assert client.request(method, url).status_code == 401, (method, path)
        if path in VENDOR_ROUTES:
            wrong = {"X-Vendor-Timestamp": "1795395600", "X-Vendor-Signature": "0" * 64}
            r = client.request(method, url, content=b"{}", headers=wrong)
            assert r.status_code == 403 and r.json()["error"]["code"] == "VENDOR_002"
            # The internal token is not a vendor signature.
            r = client.request(method, url, headers={"X-Internal-Token": "dev-internal-token-change-me"})
            assert r.status_code == 401
            continue
        r = client.request(method, url, headers={"X-Internal-Token": "wrong"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "AUTH_003"
        # Even an admin's JWT is not the internal token.
        assert client.request(method, url, headers=bearer(admin["access_token"])).status_code == 401


def test_player_routes_need_a_token_unless_public(app: FastAPI, client: TestClient) -> None:
    private = [(m, p) for m, p in _routes(app, "/v1") if (m, p) not in PUBLIC_ROUTES]
    assert private
    for method, path in private:
        r = client.request(method, _concrete(path))
        assert r.status_code == 401, (method, path)
        assert r.headers.get("www-authenticate") == "Bearer"
        r = client.request(method, _concrete(path), headers={"Authorization": "Bearer nonsense"})
        assert r.status_code == 401, (method, path)


def test_gc_with_the_internal_token_deletes_what_expired(
    live_client: TestClient, clock: FrozenClock, settings: Settings
) -> None:
    live_client.get(
        "/v1/auth/oauth/google/authorize",
        params={"redirect_uri": settings.oauth_redirect_allowlist[0]},
        follow_redirects=False,
    )
    clock.advance(timedelta(minutes=11))
    r = live_client.post("/internal/maintenance/gc", headers={"X-Internal-Token": settings.internal_token})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["status"] == "SUCCEEDED"
    assert data["details"]["oauth_states_deleted"] == 1
    again = live_client.post(
        "/internal/maintenance/gc", headers={"X-Internal-Token": settings.internal_token}
    )
    assert again.json()["data"]["details"]["oauth_states_deleted"] == 0


def test_gc_records_a_job_run(live_client: TestClient, settings: Settings, live_engine: Engine) -> None:
    live_client.post("/internal/maintenance/gc", headers={"X-Internal-Token": settings.internal_token})
    with live_engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT job, status, finished_at IS NOT NULL AS done "
                "FROM crypto.job_runs ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert (row.job, row.status, row.done) == ("maintenance.gc", "SUCCEEDED", True)


def test_a_player_token_reaches_only_its_own_profile(client: TestClient, db: Session) -> None:
    """BOLA on /v1/users/me: a player's token reaches only their own row."""
    alice = dev_login(client, "alice.bola@example.com")
    bob = dev_login(client, "bob.bola@example.com")
    me = client.get("/v1/users/me", headers=bearer(bob["access_token"])).json()["data"]
    assert me["id"] == bob["user"]["id"] != alice["user"]["id"]
    client.patch("/v1/users/me", json={"nickname": "bob_new"}, headers=bearer(bob["access_token"]))
    alice_nick = db.execute(
        text("SELECT nickname FROM crypto.users WHERE id = :i"), {"i": alice["user"]["id"]}
    ).scalar_one()
    assert alice_nick != "bob_new"
