"""The universe: what operators upsert (counts, baselines, validation) and what players
see of it."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from tests.support.factories import add_close, open_day
from tests.support.http import bearer, dev_login, internal
from tests.support.slots import cancel, submit_ok


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
    submit_ok(client, player["access_token"], "AAPL")
    r = _upsert(client, settings, ["MSFT", "NVDA"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "UNIVERSE_001"
    assert r.json()["error"]["details"] == {"symbols": ["AAPL"]}
    symbols = [i["symbol"] for i in client.get("/v1/universe/today").json()["data"]["items"]]
    assert symbols == ["AAPL", "MSFT"]


def test_a_symbol_whose_only_predictions_were_cancelled_can_be_removed(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings
) -> None:
    open_day(db, clock, settings, ["AAPL", "MSFT"])
    quitter = dev_login(client, "quitter@example.com")["access_token"]
    keeper = dev_login(client, "keeper@example.com")["access_token"]
    submit_ok(client, quitter, "AAPL")
    assert cancel(client, quitter, "AAPL")[0] == 200
    submit_ok(client, keeper, "MSFT")

    r = _upsert(client, settings, ["MSFT", "NVDA"])
    assert r.status_code == 200, r.text
    assert r.json()["data"]["details"]["removed"] == 1
    symbols = [i["symbol"] for i in client.get("/v1/universe/today").json()["data"]["items"]]
    assert symbols == ["MSFT", "NVDA"]
    left = db.execute(text("SELECT symbol, status FROM crypto.predictions ORDER BY symbol")).all()
    assert [tuple(r) for r in left] == [("MSFT", "PENDING")]
    audit = db.execute(
        text("SELECT payload FROM crypto.audit_log WHERE action = 'universe.upsert' ORDER BY id DESC LIMIT 1")
    ).scalar_one()
    assert audit["removed"] == ["AAPL"] and audit["cancelled_predictions_deleted"] == 1
    # Removing MSFT, which has a live prediction, is still refused.
    r = _upsert(client, settings, ["NVDA"])
    assert r.status_code == 409 and r.json()["error"]["details"] == {"symbols": ["MSFT"]}


def _upsert(client: TestClient, settings: Settings, symbols: list[str]) -> Any:
    return client.post("/internal/universe/upsert", json={"symbols": symbols}, headers=internal(settings))
