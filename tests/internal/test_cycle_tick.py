"""/internal/cycle/tick on a fresh system: opens the current trading day, once."""

from __future__ import annotations

from fastapi.testclient import TestClient

from myapi.core.config import Settings
from tests.support.http import bearer, dev_login, internal


def test_cycle_tick_opens_the_current_trading_day_on_a_fresh_system(
    live_client: TestClient, settings: Settings
) -> None:
    r = live_client.post("/internal/cycle/tick", headers=internal(settings))
    assert r.status_code == 200, r.text
    actions = r.json()["data"]["details"]["actions"]
    assert [a["step"] for a in actions] == ["open"]
    assert actions[0]["trading_day"] == "2026-11-23"
    assert actions[0]["opened"] is True and actions[0]["default_universe_set"] is True
    today = live_client.get("/v1/session/today").json()["data"]
    assert today["trading_day"] == "2026-11-23"

    # The next tick finds the day open: it refreshes the baselines (due every
    # BASELINE_REFRESH_INTERVAL_MIN while predictions are open), and nothing else.
    again = live_client.post("/internal/cycle/tick", headers=internal(settings))
    [refresh] = again.json()["data"]["details"]["actions"]
    assert refresh["step"] == "universe.refresh_baselines" and refresh["refreshed"] == 100
    # A third tick at the same instant changes nothing.
    third = live_client.post("/internal/cycle/tick", headers=internal(settings))
    assert third.json()["data"]["details"]["actions"] == []
    admin = dev_login(live_client, "tick.admin@example.com", role="ADMIN")
    jobs = live_client.get("/admin/jobs", headers=bearer(admin["access_token"])).json()["data"]
    assert [j["job"] for j in jobs if j["job"] == "session.open"] == ["session.open"]
    assert sum(1 for j in jobs if j["job"] == "cycle.tick") == 3
    assert all(j["status"] == "SUCCEEDED" for j in jobs)
    assert live_client.post("/internal/cycle/tick").status_code == 401
