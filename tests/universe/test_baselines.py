"""Baselines: a day opens with the previous official close, a refresh moves it to the
latest price while predictions are open, every prediction keeps the price of its own
moment, and a symbol without a baseline cannot be predicted."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.container import Container
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.providers.eod.sandbox import SandboxEodProvider
from myapi.settlement.service import SettlementService
from tests.support.days import AFTER_CLOSE, DAY
from tests.support.factories import add_close, open_day
from tests.support.http import bearer, dev_login


def _universe(client: TestClient) -> dict[str, dict[str, str]]:
    return {i["symbol"]: i for i in client.get("/v1/universe/today").json()["data"]["items"]}


def test_a_symbol_without_a_baseline_cannot_be_predicted(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings, container: Container
) -> None:
    open_day(db, clock, settings, ["AAPL", "MSFT"], with_baselines=False)
    player = dev_login(client, "early@example.com")
    assert client.get("/v1/universe/today").json()["data"]["baselines_available"] is False
    r = client.post("/v1/predictions/AAPL", json={"choice": "UP"}, headers=bearer(player["access_token"]))
    assert r.status_code == 409 and r.json()["error"]["code"] == "PRED_006"
    assert r.json()["error"]["details"] == {"symbol": "AAPL", "trading_day": "2026-11-23"}
    assert db.execute(text("SELECT count(*) FROM crypto.predictions")).scalar_one() == 0
    status = client.get("/v1/ads/status", headers=bearer(player["access_token"])).json()["data"]
    assert status["used"] == 0  # no slot was taken

    # The baseline refresh prices it (the sandbox's latest price), and then it can be.
    details = container.jobs().refresh_baselines().details
    assert details["refreshed"] == 2
    item = _universe(client)["AAPL"]
    assert item["baseline_source"] == "sandbox" and item["baseline_price"] is not None
    assert item["previous_close"] is None and item["change"] is None
    r = client.post("/v1/predictions/AAPL", json={"choice": "UP"}, headers=bearer(player["access_token"]))
    assert r.status_code == 202, r.text


def test_each_prediction_keeps_the_price_of_its_own_moment(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings, container: Container
) -> None:
    open_day(db, clock, settings, ["AAPL", "MSFT"])  # baselines: Friday's closes (AAPL 100.125)
    early = dev_login(client, "early.bird@example.com")
    late = dev_login(client, "late.bird@example.com")
    before = _universe(client)["AAPL"]
    assert Decimal(before["baseline_price"]) == Decimal(before["previous_close"]) == Decimal("100.125")
    assert Decimal(before["change"]) == 0 and Decimal(before["change_pct"]) == 0
    up = {"choice": "UP"}
    assert (
        client.post("/v1/predictions/AAPL", json=up, headers=bearer(early["access_token"])).status_code == 202
    )

    clock.advance(timedelta(minutes=10))
    result = container.jobs().refresh_baselines()
    assert result.trading_day == DAY and result.details["refreshed"] == 2
    live = SandboxEodProvider().latest(DAY, ["AAPL"], clock.now())["AAPL"]
    after = _universe(client)["AAPL"]
    assert Decimal(after["baseline_price"]) == live.price and after["baseline_source"] == "sandbox"
    assert Decimal(after["previous_close"]) == Decimal("100.125")
    assert Decimal(after["change"]) == live.price - Decimal("100.125")
    assert (
        client.post("/v1/predictions/AAPL", json=up, headers=bearer(late["access_token"])).status_code == 202
    )

    rows = db.execute(
        text(
            "SELECT u.email, p.baseline_price FROM crypto.predictions p "
            "JOIN crypto.users u ON u.id = p.user_id"
        )
    ).all()
    baselines = {r.email: r.baseline_price for r in rows}
    assert baselines == {"early.bird@example.com": Decimal("100.125"), "late.bird@example.com": live.price}

    # A close between the two baselines: the same call wins for one and loses for the other.
    close = (Decimal("100.125") + live.price) / 2
    add_close(db, "AAPL", DAY, f"{close:.6f}")
    add_close(db, "MSFT", DAY, "100.000000")
    clock.set(AFTER_CLOSE)
    SettlementService(db, clock, settings).settle(DAY)
    outcomes = dict(
        db.execute(
            text("SELECT u.email, p.status FROM crypto.predictions p JOIN crypto.users u ON u.id = p.user_id")
        ).all()
    )
    early_wins = close > Decimal("100.125")
    assert outcomes["early.bird@example.com"] == ("CORRECT" if early_wins else "INCORRECT")
    assert outcomes["late.bird@example.com"] == ("INCORRECT" if early_wins else "CORRECT")


def test_no_refresh_after_the_cutoff(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings, container: Container
) -> None:
    open_day(db, clock, settings, ["AAPL"])
    clock.set(AFTER_CLOSE - timedelta(hours=6))  # after the 23:25 KST cutoff
    details = container.jobs().refresh_baselines().details
    assert details["refreshed"] == 0 and details["skipped"] == "SESSION_NOT_OPEN"
    assert Decimal(_universe(client)["AAPL"]["baseline_price"]) == Decimal("100.125")


def test_changing_a_prediction_takes_the_baseline_of_that_moment(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings, container: Container
) -> None:
    """Otherwise a player could predict at the previous close, watch the pre-market move
    and flip the call while keeping the old, better baseline."""
    open_day(db, clock, settings, ["AAPL"])  # AAPL baseline 100.125 (Friday's close)
    player = dev_login(client, "flipper@example.com")
    headers = bearer(player["access_token"])
    assert client.post("/v1/predictions/AAPL", json={"choice": "UP"}, headers=headers).status_code == 202
    clock.advance(timedelta(minutes=30))
    container.jobs().refresh_baselines()
    live = SandboxEodProvider().latest(DAY, ["AAPL"], clock.now())["AAPL"]
    r = client.patch("/v1/predictions/AAPL", json={"choice": "DOWN"}, headers=headers)
    assert r.status_code == 200, r.text
    assert Decimal(r.json()["data"]["baseline_price"]) == live.price
    stored = db.execute(text("SELECT choice, baseline_price FROM crypto.predictions")).one()
    assert (stored.choice, stored.baseline_price) == ("DOWN", live.price)
