"""Sessions and the universe: what players see, and what the scheduler and operators do."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from tests.support.factories import add_close, open_day
from tests.support.http import bearer, dev_login

MONDAY = date(2026, 11, 23)


def internal(settings: Settings) -> dict[str, str]:
    return {"X-Internal-Token": settings.internal_token}


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
    assert job["details"] == {"trading_day": "2026-11-23", "opened": True, "default_universe_set": True}
    again = live_client.post("/internal/session/flip-to-predict", headers=internal(settings)).json()["data"]
    assert again["details"]["opened"] is False and again["details"]["default_universe_set"] is False
    today = live_client.get("/v1/session/today").json()["data"]
    assert today["phase"] == "PREDICT" and today["can_predict"] is True
    universe = live_client.get("/v1/universe/today").json()["data"]
    assert len(universe["items"]) == 100 and universe["items"][0]["symbol"] == "AAPL"
    assert universe["baselines_available"] is False  # no EOD close known yet


def test_cutoff_is_idempotent_and_closes_predictions(live_client: TestClient, settings: Settings) -> None:
    live_client.post("/internal/session/flip-to-predict", headers=internal(settings))
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


def test_day_after_thanksgiving_is_an_early_close(client: TestClient, clock: FrozenClock) -> None:
    clock.set(datetime(2026, 11, 26, 3, 0, tzinfo=UTC))  # Thanksgiving, noon KST
    data = client.get("/v1/session/today").json()["data"]
    assert data["trading_day"] == "2026-11-27"
    assert data["is_early_close"] is True
    assert data["market_close_at"] == "2026-11-28T03:00:00+09:00"  # 13:00 EST


def test_universe_upsert_counts_and_baselines(client: TestClient, db: Session, settings: Settings) -> None:
    add_close(db, "AAPL", date(2026, 11, 20), "230.500000")
    add_close(db, "AAPL", date(2026, 11, 20), "230.750000", vendor_rev=1)  # a correction wins
    add_close(db, "AAPL", date(2026, 11, 19), "225.000000")
    db.flush()
    admin = dev_login(client, "ops.universe@example.com", role="ADMIN")
    auth = bearer(admin["access_token"])
    r = client.post("/admin/universe/upsert", json={"symbols": ["aapl", "MSFT", "NVDA"]}, headers=auth)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["added"], data["updated"], data["removed"], data["total"]) == (3, 0, 0, 3)
    assert data["baselines_missing"] == ["MSFT", "NVDA"]
    r = client.post(
        "/admin/universe/upsert",
        json={"trading_day": "2026-11-23", "symbols": [{"symbol": "NVDA", "seq": 1}, "AAPL", "TSLA"]},
        headers=auth,
    )
    data = r.json()["data"]
    assert (data["added"], data["updated"], data["removed"], data["total"]) == (1, 2, 1, 3)
    items = client.get("/v1/universe/today").json()["data"]["items"]
    assert [(i["symbol"], i["seq"]) for i in items] == [("NVDA", 1), ("AAPL", 2), ("TSLA", 3)]
    aapl = items[1]
    assert aapl["baseline_price"] == "230.750000"
    assert aapl["baseline_at"] == "2026-11-21T06:00:00+09:00"  # Friday's close, in KST
    audit = db.execute(
        text("SELECT count(*) FROM crypto.audit_log WHERE action = 'universe.upsert'")
    ).scalar_one()
    assert audit == 2


def test_universe_validation_errors(client: TestClient) -> None:
    admin = dev_login(client, "ops.validate@example.com", role="ADMIN")
    auth = bearer(admin["access_token"])
    for symbols in (["AAPL", "AAPL"], ["1BAD"], [], ["TOO-LONG-SYMBOL"], [f"S{i}" for i in range(101)]):
        r = client.post("/admin/universe/upsert", json={"symbols": symbols}, headers=auth)
        assert r.status_code == 422, symbols
        assert r.json()["error"]["code"] == "SYS_422"
    r = client.post("/admin/universe/upsert", json={"trading_day": "2026-11-26"}, headers=auth)
    assert r.status_code == 409 and r.json()["error"]["code"] == "CYCLE_001"


def test_removing_a_symbol_with_predictions_is_refused_and_changes_nothing(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings
) -> None:
    open_day(db, clock, settings, ["AAPL", "MSFT"])
    player = dev_login(client, "holder@example.com")
    assert (
        client.post(
            "/v1/predictions/AAPL", json={"choice": "UP"}, headers=bearer(player["access_token"])
        ).status_code
        == 202
    )
    r = client.post(
        "/internal/universe/upsert", json={"symbols": ["MSFT", "NVDA"]}, headers=internal(settings)
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "UNIVERSE_001"
    assert r.json()["error"]["details"] == {"symbols": ["AAPL"]}
    symbols = [i["symbol"] for i in client.get("/v1/universe/today").json()["data"]["items"]]
    assert symbols == ["AAPL", "MSFT"]
