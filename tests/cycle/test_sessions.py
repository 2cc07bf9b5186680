"""Sessions: what players see of the trading day, and what the scheduler does to it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.providers.eod.sandbox import sandbox_close
from tests.support.http import internal


def test_today_before_the_session_opens(client: TestClient) -> None:
    data = client.get("/v1/session/today").json()["data"]
    assert data["trading_day"] == "2026-11-23"
    assert data["phase"] is None and data["can_predict"] is False
    assert data["predict_cutoff_at"] == "2026-11-23T23:25:00+09:00"  # winter: NYSE 09:30 EST - 5 min
    assert data["market_open_at"] == "2026-11-23T23:30:00+09:00"
    assert data["market_close_at"] == "2026-11-24T06:00:00+09:00"


def test_flip_to_predict_opens_the_day_with_the_default_universe_once(
    live_client: TestClient, settings: Settings
) -> None:
    r = live_client.post("/internal/session/flip-to-predict", headers=internal(settings))
    assert r.status_code == 200, r.text
    job = r.json()["data"]
    assert job["status"] == "SUCCEEDED" and job["job"] == "session.open"
    assert job["details"] == {
        "trading_day": "2026-11-23", "opened": True, "default_universe_set": True,
        "previous_closes_fetched": 100,  # Friday's closes, for the baselines
        "baselines_filled": 0,  # the default universe took them as it was set
    }  # fmt: skip
    again = live_client.post("/internal/session/flip-to-predict", headers=internal(settings)).json()["data"]
    assert again["details"]["opened"] is False and again["details"]["default_universe_set"] is False
    today = live_client.get("/v1/session/today").json()["data"]
    assert today["phase"] == "PREDICT" and today["can_predict"] is True
    universe = live_client.get("/v1/universe/today").json()["data"]
    assert len(universe["items"]) == 100 and universe["items"][0]["symbol"] == "AAPL"
    # The day opens with real baselines: Friday's official close (the sandbox's here).
    assert universe["baselines_available"] is True
    aapl = universe["items"][0]
    friday_close = str(sandbox_close("AAPL", date(2026, 11, 20)))
    assert Decimal(aapl["baseline_price"]) == Decimal(aapl["previous_close"]) == Decimal(friday_close)
    assert aapl["baseline_source"] == "sandbox" and Decimal(aapl["change"]) == 0
    assert aapl["baseline_at"] == "2026-11-21T06:00:00+09:00"  # Friday's close, in KST


def test_cutoff_is_idempotent_and_closes_predictions(
    live_client: TestClient, settings: Settings, clock: FrozenClock
) -> None:
    live_client.post("/internal/session/flip-to-predict", headers=internal(settings))
    # Before the scheduled cutoff the scheduled path refuses (an early cutoff is an
    # operator's act): still open.
    early = live_client.post("/internal/session/cutoff", headers=internal(settings))
    assert early.status_code == 409 and early.json()["error"]["code"] == "CYCLE_003"
    assert early.json()["error"]["details"]["predict_cutoff_at"] == "2026-11-23T23:25:00+09:00"
    assert live_client.get("/v1/session/today").json()["data"]["can_predict"] is True
    clock.set(datetime(2026, 11, 23, 14, 25, tzinfo=UTC))  # the cutoff, 23:25 KST
    first = live_client.post("/internal/session/cutoff", headers=internal(settings)).json()["data"]
    second = live_client.post("/internal/session/cutoff", headers=internal(settings)).json()["data"]
    assert first["details"]["flipped"] is True and second["details"]["flipped"] is False
    today = live_client.get("/v1/session/today").json()["data"]
    assert today["phase"] == "SETTLE" and today["can_predict"] is False


def test_non_trading_day_is_refused_with_409_and_recorded(
    live_client: TestClient, settings: Settings, live_engine: Engine
) -> None:
    r = live_client.post(
        "/internal/session/flip-to-predict", json={"trading_day": "2026-11-26"}, headers=internal(settings)
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "CYCLE_001"
    with live_engine.connect() as conn:
        row = conn.execute(text("SELECT status, error FROM crypto.job_runs ORDER BY id DESC LIMIT 1")).one()
        opened = conn.execute(text("SELECT count(*) FROM crypto.session_control")).scalar_one()
    assert row.status == "FAILED" and "Not an NYSE trading day" in row.error
    assert opened == 0


def test_on_a_weekend_today_is_the_next_trading_day(client: TestClient, clock: FrozenClock) -> None:
    clock.set(datetime(2026, 11, 21, 3, 0, tzinfo=UTC))  # Saturday noon KST
    data = client.get("/v1/session/today").json()["data"]
    assert data["trading_day"] == "2026-11-23" and data["can_predict"] is False
    # The server's clock and its rate, for a client's countdown (1.0: real time).
    assert (data["server_time"], data["clock_speed"]) == ("2026-11-21T12:00:00+09:00", 1.0)


def test_day_after_thanksgiving_is_an_early_close(client: TestClient, clock: FrozenClock) -> None:
    clock.set(datetime(2026, 11, 26, 3, 0, tzinfo=UTC))  # Thanksgiving, noon KST
    data = client.get("/v1/session/today").json()["data"]
    assert data["trading_day"] == "2026-11-27"
    assert data["is_early_close"] is True
    assert data["market_close_at"] == "2026-11-28T03:00:00+09:00"  # 13:00 EST
