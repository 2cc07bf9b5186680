"""The signed vendor webhook (/internal/vendor/eod-event): stores revised prices and
requests a settlement; signature, timestamp and payload checks; a revision resettles
through the queue."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from tests.support.days import AFTER_CLOSE, DAY
from tests.support.db import balance_of, count, failed_checks, statuses
from tests.support.factories import add_close, make_user, open_day, predict
from tests.support.http import error_code, internal
from tests.support.pipeline import Pipeline


def vendor_event(vendor_rev: int = 1, **price: Any) -> dict[str, Any]:
    return {
        "asof": "2026-11-23",
        "vendor_rev": vendor_rev,
        "prices": [{"symbol": "AAPL", "close": "99.500000", "prev_close": "100.125000", **price}],
    }


def sign(secret: str, timestamp: int | str, raw: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()


def send_vendor_event(
    client: TestClient,
    settings: Settings,
    clock: FrozenClock,
    event: dict[str, Any] | bytes,
    *,
    age_s: int = 0,
    signature: str | None = None,
) -> Any:
    raw = event if isinstance(event, bytes) else json.dumps(event).encode()
    timestamp = int(clock.now().timestamp()) - age_s
    headers = {
        "Content-Type": "application/json",
        "X-Vendor-Timestamp": str(timestamp),
        "X-Vendor-Signature": signature or sign(settings.vendor_webhook_secret, timestamp, raw),
    }
    return client.post("/internal/vendor/eod-event", content=raw, headers=headers)


def test_a_signed_vendor_event_stores_prices_and_requests_settlement(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings
) -> None:
    open_day(db, clock, settings, ["AAPL", "MSFT"])
    event = {
        "asof": "2026-11-23",
        "vendor_rev": 3,
        "prices": [
            {"symbol": "aapl", "close": "99.5", "prev_close": 100.125},
            {"symbol": "MSFT", "close": 410.25},
        ],
    }
    r = send_vendor_event(client, settings, clock, event)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["job"], data["status"]) == ("eod.vendor_event", "SUCCEEDED")
    assert data["details"] == {
        "asof": "2026-11-23",
        "vendor_rev": 3,
        "stored": 2,
        "settlement": "settlement.requested",
    }
    rows = db.execute(
        text(
            "SELECT symbol, vendor_rev, close_price::text AS close, prev_close_price::text AS prev, provider "
            "FROM crypto.eod_prices WHERE asof = '2026-11-23' ORDER BY symbol"
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        ("AAPL", 3, "99.500000", "100.125000", "vendor-webhook"),
        ("MSFT", 3, "410.250000", None, "vendor-webhook"),
    ]
    outbox = (
        db.execute(text("SELECT payload FROM crypto.outbox WHERE topic = 'settlement.requested'"))
        .scalars()
        .all()
    )
    assert outbox == [{"trading_day": "2026-11-23"}]


def test_a_vendor_event_for_a_day_without_session_stores_but_requests_nothing(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings
) -> None:
    event = {"asof": "2026-11-20", "vendor_rev": 0, "prices": [{"symbol": "AAPL", "close": "98.25"}]}
    r = send_vendor_event(client, settings, clock, event)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["details"]["stored"] == 1
    assert r.json()["data"]["details"]["settlement"] is None
    assert count(db, "SELECT count(*) FROM crypto.outbox WHERE topic = 'settlement.requested'") == 0


def test_the_same_vendor_event_twice_stores_nothing_the_second_time(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings
) -> None:
    open_day(db, clock, settings, ["AAPL"])
    first = send_vendor_event(client, settings, clock, vendor_event())
    assert first.json()["data"]["details"]["stored"] == 1
    clock.advance(timedelta(seconds=5))
    second = send_vendor_event(client, settings, clock, vendor_event())
    assert second.status_code == 200, second.text
    assert second.json()["data"]["details"]["stored"] == 0
    assert second.json()["data"]["details"]["settlement"] is None
    assert count(db, "SELECT count(*) FROM crypto.eod_prices WHERE asof = '2026-11-23'") == 1
    assert count(db, "SELECT count(*) FROM crypto.outbox WHERE topic = 'settlement.requested'") == 1


def test_a_wrong_vendor_signature_is_VENDOR_002(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings
) -> None:
    r = send_vendor_event(client, settings, clock, vendor_event(), signature="00" * 32)
    assert r.status_code == 403 and error_code(r) == "VENDOR_002"
    # Signed with another secret, or over a different body.
    raw = json.dumps(vendor_event()).encode()
    r = send_vendor_event(
        client, settings, clock, raw, signature=sign("another-secret", int(clock.now().timestamp()), raw)
    )
    assert r.status_code == 403 and error_code(r) == "VENDOR_002"
    ts = int(clock.now().timestamp())
    tampered = raw.replace(b"99.500000", b"199.500000")
    r = client.post(
        "/internal/vendor/eod-event",
        content=tampered,
        headers={
            "X-Vendor-Timestamp": str(ts),
            "X-Vendor-Signature": sign(settings.vendor_webhook_secret, ts, raw),
        },
    )
    assert r.status_code == 403 and error_code(r) == "VENDOR_002"
    assert count(db, "SELECT count(*) FROM crypto.eod_prices") == 0


def test_a_vendor_event_without_headers_is_VENDOR_001(client: TestClient, db: Session) -> None:
    r = client.post("/internal/vendor/eod-event", json=vendor_event())
    assert r.status_code == 401 and error_code(r) == "VENDOR_001"
    r = client.post("/internal/vendor/eod-event", json=vendor_event(), headers={"X-Vendor-Signature": "ab"})
    assert r.status_code == 401 and error_code(r) == "VENDOR_001"
    assert count(db, "SELECT count(*) FROM crypto.eod_prices") == 0


def test_a_stale_or_future_vendor_timestamp_is_VENDOR_003(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings
) -> None:
    r = send_vendor_event(client, settings, clock, vendor_event(), age_s=301)
    assert r.status_code == 403 and error_code(r) == "VENDOR_003"
    r = send_vendor_event(client, settings, clock, vendor_event(), age_s=-301)
    assert r.status_code == 403 and error_code(r) == "VENDOR_003"
    raw = json.dumps(vendor_event()).encode()
    r = client.post(
        "/internal/vendor/eod-event",
        content=raw,
        headers={
            "X-Vendor-Timestamp": "yesterday",
            "X-Vendor-Signature": sign(settings.vendor_webhook_secret, "yesterday", raw),
        },
    )
    assert r.status_code == 403 and error_code(r) == "VENDOR_003"
    assert count(db, "SELECT count(*) FROM crypto.eod_prices") == 0
    # 300 s is still inside the window.
    ok = send_vendor_event(client, settings, clock, vendor_event(), age_s=300)
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    "price",
    [
        {"close": 0},
        {"close": "0"},
        {"close": -1.5},
        {"close": "NaN"},
        {"close": "Infinity"},
        {"close": "abc"},
        {"close": None},
        {"close": "1.0000001"},
        {"prev_close": 0},
        {"prev_close": "NaN"},
        {"symbol": ""},
    ],
    ids=[
        "zero",
        "zero-string",
        "negative",
        "nan",
        "infinity",
        "not-a-number",
        "null",
        "seven-decimals",
        "prev-zero",
        "prev-nan",
        "empty-symbol",
    ],
)
def test_an_invalid_vendor_price_is_SYS_422_and_stores_nothing(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings, price: dict[str, Any]
) -> None:
    r = send_vendor_event(client, settings, clock, vendor_event(**price))
    assert r.status_code == 422, r.text
    assert error_code(r) == "SYS_422"
    assert r.json()["error"]["details"]
    assert count(db, "SELECT count(*) FROM crypto.eod_prices") == 0
    assert count(db, "SELECT count(*) FROM crypto.job_runs WHERE job = 'eod.vendor_event'") == 0


@pytest.mark.parametrize(
    "event",
    [
        {**vendor_event(), "signed_by": "me"},
        vendor_event(volume=1000),
        {"asof": "2026-11-23", "vendor_rev": 1, "prices": []},
        {"asof": "2026-11-23", "vendor_rev": -1, "prices": vendor_event()["prices"]},
        {"asof": "not-a-day", "vendor_rev": 1, "prices": vendor_event()["prices"]},
        {"vendor_rev": 1, "prices": vendor_event()["prices"]},
    ],
    ids=["extra-top-level", "extra-price-field", "no-prices", "negative-rev", "bad-asof", "missing-asof"],
)
def test_a_malformed_vendor_event_is_422(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings, event: dict[str, Any]
) -> None:
    r = send_vendor_event(client, settings, clock, event)
    assert r.status_code == 422, r.text
    assert error_code(r) == "SYS_422"
    assert count(db, "SELECT count(*) FROM crypto.eod_prices") == 0


def test_a_vendor_rev_beyond_the_column_is_422_not_500(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings
) -> None:
    r = send_vendor_event(client, settings, clock, vendor_event(vendor_rev=2**31))
    assert count(db, "SELECT count(*) FROM crypto.eod_prices") == 0
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("symbol", ["   ", "bad!", "AAPL AAPL"], ids=["blank", "punctuation", "space"])
def test_a_vendor_price_with_an_invalid_symbol_is_422(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings, symbol: str
) -> None:
    r = send_vendor_event(client, settings, clock, vendor_event(symbol=symbol))
    assert count(db, "SELECT count(*) FROM crypto.eod_prices") == 0
    assert r.status_code == 422, r.text


def test_a_signed_body_that_is_not_json_is_422(
    client: TestClient, clock: FrozenClock, settings: Settings
) -> None:
    r = send_vendor_event(client, settings, clock, b"{not json")
    assert r.status_code == 422 and error_code(r) == "SYS_422"


# --------------------------------------------------------------------------- pipeline: revision


def p_statuses(p: Pipeline, user_id: int) -> dict[str, tuple[str, int, str | None]]:
    with p.session() as s:
        return statuses(s, user_id)


def p_balances(p: Pipeline, *users: int) -> list[int]:
    with p.session() as s:
        return [balance_of(s, u) for u in users]


def test_a_vendor_revision_resettles_through_the_queue_and_balances_follow(
    pipeline: Pipeline,
    pipeline_client: TestClient,
) -> None:
    p = pipeline
    with p.session() as s:
        open_day(s, p.clock, p.settings, ["AAPL", "MSFT"])
        up = make_user(s, "rev.bull@example.com")
        down = make_user(s, "rev.bear@example.com")
        for symbol in ("AAPL", "MSFT"):
            predict(s, p.clock, p.settings, up, symbol, "UP")
            predict(s, p.clock, p.settings, down, symbol, "DOWN")
        add_close(s, "AAPL", DAY, "101.000000")  # rev 0: AAPL up
        add_close(s, "MSFT", DAY, "100.000000")  # rev 0: MSFT down
    p.clock.set(AFTER_CLOSE)
    first = pipeline_client.post(
        "/internal/settlement/run", json={"trading_day": "2026-11-23"}, headers=internal(p.settings)
    )
    assert first.status_code == 200, first.text
    assert first.json()["data"]["details"]["symbols_settled"] == 2
    assert p_statuses(p, up)["AAPL"] == ("CORRECT", 50, None)
    assert p_balances(p, up, down) == [1050, 1050]

    # The vendor corrects AAPL: it actually fell.
    event = {"asof": "2026-11-23", "vendor_rev": 1, "prices": [{"symbol": "AAPL", "close": "99.000000"}]}
    r = send_vendor_event(pipeline_client, p.settings, p.clock, event)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["details"]["stored"] == 1
    assert r.json()["data"]["details"]["settlement"] == "settlement.requested"
    p.pump()

    assert p_statuses(p, up) == {"AAPL": ("INCORRECT", 0, None), "MSFT": ("INCORRECT", 0, None)}
    assert p_statuses(p, down) == {"AAPL": ("CORRECT", 50, None), "MSFT": ("CORRECT", 50, None)}
    assert p_balances(p, up, down) == [1000, 1100]
    with p.session() as s:
        ledger = s.execute(
            text(
                "SELECT user_id, ref_type, ref_id, delta_points FROM crypto.points_ledger "
                "WHERE symbol = 'AAPL' ORDER BY id"
            )
        ).all()
        assert tuple(ledger[0]) == (up, "SETTLEMENT", f"2026-11-23:AAPL:{up}", 50)
        assert sorted(tuple(r) for r in ledger[1:]) == sorted(
            [
                (up, "SETTLEMENT_REVERSAL", f"2026-11-23:AAPL:{up}:r1", -50),
                (down, "SETTLEMENT", f"2026-11-23:AAPL:{down}:r1", 50),
            ]
        )
        settlement = s.execute(
            text(
                "SELECT outcome, vendor_rev, close_price::text FROM crypto.settlements WHERE symbol = 'AAPL'"
            )
        ).one()
        assert tuple(settlement) == ("DOWN", 1, "99.000000")
        assert failed_checks(s) == {}
    ledger_rows = p.scalar("SELECT count(*) FROM crypto.points_ledger")

    # The same webhook again (a vendor retry): nothing is stored, nothing changes.
    p.clock.set(AFTER_CLOSE + timedelta(seconds=30))
    again = send_vendor_event(pipeline_client, p.settings, p.clock, event)
    assert again.status_code == 200, again.text
    assert again.json()["data"]["details"]["stored"] == 0
    assert again.json()["data"]["details"]["settlement"] is None
    p.pump()
    assert p.scalar("SELECT count(*) FROM crypto.points_ledger") == ledger_rows
    assert p_balances(p, up, down) == [1000, 1100]
    assert (
        p.scalar("SELECT count(*) FROM crypto.eod_prices WHERE symbol = 'AAPL' AND asof = '2026-11-23'") == 2
    )
    with p.session() as s:
        assert failed_checks(s) == {}
