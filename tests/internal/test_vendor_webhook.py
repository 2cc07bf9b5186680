"""Points API, admin adjustments and integrity, and the /internal surface: settlement,
the signed vendor webhook, EOD fallback with the VOID deadline, outbox publish, cycle tick."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from dependency_injector import providers
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from myapi.admin.integrity import IntegrityRepository
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.db import unit_of_work
from myapi.cycle.calendar import get_market_calendar
from myapi.cycle.tick import CycleService
from myapi.main import create_app
from myapi.market.service import EodService, make_breakers
from myapi.outbox.repository import OutboxRepository
from myapi.providers.eod.sandbox import SandboxEodProvider
from myapi.providers.eod.yahoo import YahooEodProvider
from myapi.providers.queue import SqsQueue
from tests.support.factories import add_close, make_user, open_day, predict
from tests.support.http import bearer, dev_login
from tests.support.pipeline import Pipeline

DAY = date(2026, 11, 23)
MARKET_CLOSE = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)  # 16:00 New York (EST)
AFTER_CLOSE = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # 06:30 KST Tuesday
# Baselines from open_day: AAPL 100.125, MSFT 101.125, NVDA 102.125, AMZN 103.125


# --------------------------------------------------------------------------- helpers


def internal(settings: Settings) -> dict[str, str]:
    return {"X-Internal-Token": settings.internal_token}


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


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


def count(db: Session, sql: str, **params: object) -> int:
    return int(db.execute(text(sql), params).scalar_one())


def statuses(db: Session, user_id: int) -> dict[str, tuple[str, int, str | None]]:
    rows = db.execute(
        text("SELECT symbol, status, points_awarded, void_reason FROM crypto.predictions WHERE user_id = :u"),
        {"u": user_id},
    )
    return {r.symbol: (r.status, r.points_awarded, r.void_reason) for r in rows}


def balance_of(db: Session, user_id: int) -> int:
    return count(db, "SELECT balance FROM crypto.point_balances WHERE user_id = :u", u=user_id)


def failed_checks(db: Session) -> dict[str, list[dict[str, Any]]]:
    return {r.name: r.offending for r in IntegrityRepository(db).run() if not r.passed}


# --------------------------------------------------------------------------- /v1/points


def test_balance_is_the_signup_bonus_after_dev_login(client: TestClient) -> None:
    player = dev_login(client, "points.balance@example.com")
    r = client.get("/v1/points/balance", headers=bearer(player["access_token"]))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["balance"] == 1000
    assert data["user_id"] == player["user"]["id"]


def test_ledger_lists_the_signup_entry_with_total(client: TestClient) -> None:
    player = dev_login(client, "points.ledger@example.com")
    r = client.get("/v1/points/ledger", headers=bearer(player["access_token"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meta"]["total"] == 1
    [entry] = body["data"]
    assert (entry["ref_type"], entry["delta_points"], entry["balance_after"]) == ("SIGNUP", 1000, 1000)
    assert entry["reason"] == "signup_bonus"
    assert entry["created_at"].endswith("+09:00")


def test_points_routes_need_a_token(client: TestClient) -> None:
    for path in ("/v1/points/balance", "/v1/points/ledger"):
        r = client.get(path)
        assert r.status_code == 401, path
        assert error_code(r) == "AUTH_001"
        r = client.get(path, headers=bearer("not-a-token"))
        assert r.status_code == 401, path


def test_ledger_is_newest_first_and_pages_with_meta_total(client: TestClient) -> None:
    admin = dev_login(client, "points.admin1@example.com", role="ADMIN")
    player = dev_login(client, "points.newest@example.com")
    player_id = player["user"]["id"]
    r = client.post(
        f"/admin/users/{player_id}/adjust-points",
        json={"delta": 250, "reason": "goodwill"},
        headers=bearer(admin["access_token"]),
    )
    assert r.status_code == 200, r.text
    body = client.get("/v1/points/ledger", headers=bearer(player["access_token"])).json()
    assert body["meta"]["total"] == 2
    assert [(e["ref_type"], e["balance_after"]) for e in body["data"]] == [("ADMIN", 1250), ("SIGNUP", 1000)]
    assert body["data"][0]["id"] > body["data"][1]["id"]
    page = client.get(
        "/v1/points/ledger", params={"limit": 1, "offset": 1}, headers=bearer(player["access_token"])
    ).json()
    assert page["meta"]["total"] == 2 and (page["meta"]["limit"], page["meta"]["offset"]) == (1, 1)
    assert [e["ref_type"] for e in page["data"]] == ["SIGNUP"]


def test_a_player_sees_only_their_own_ledger(client: TestClient) -> None:
    admin = dev_login(client, "points.admin2@example.com", role="ADMIN")
    rich = dev_login(client, "points.rich@example.com")
    poor = dev_login(client, "points.poor@example.com")
    rich_id = rich["user"]["id"]
    client.post(
        f"/admin/users/{rich_id}/adjust-points",
        json={"delta": 500, "reason": "contest prize"},
        headers=bearer(admin["access_token"]),
    )
    rich_ledger = client.get("/v1/points/ledger", headers=bearer(rich["access_token"])).json()
    poor_ledger = client.get("/v1/points/ledger", headers=bearer(poor["access_token"])).json()
    assert rich_ledger["meta"]["total"] == 2
    assert poor_ledger["meta"]["total"] == 1
    assert [e["ref_type"] for e in poor_ledger["data"]] == ["SIGNUP"]
    assert not {e["id"] for e in rich_ledger["data"]} & {e["id"] for e in poor_ledger["data"]}
    assert (
        client.get("/v1/points/balance", headers=bearer(poor["access_token"])).json()["data"]["balance"]
        == 1000
    )


# --------------------------------------------------------------------------- admin adjust-points


@pytest.fixture
def admin_and_player(client: TestClient) -> tuple[dict[str, Any], dict[str, Any], int]:
    admin = dev_login(client, "adjust.admin@example.com", role="ADMIN")
    player = dev_login(client, "adjust.player@example.com")
    return admin, player, int(player["user"]["id"])


def test_admin_adjustment_is_audited_and_ledgered_with_the_audit_id(
    client: TestClient, db: Session, admin_and_player: tuple[dict[str, Any], dict[str, Any], int]
) -> None:
    admin, player, player_id = admin_and_player
    r = client.post(
        f"/admin/users/{player_id}/adjust-points",
        json={"delta": 250, "reason": "compensation for outage"},
        headers=bearer(admin["access_token"]),
    )
    assert r.status_code == 200, r.text
    out = r.json()["data"]
    assert (out["delta"], out["balance_after"]) == (250, 1250)
    entry = db.execute(
        text(
            "SELECT user_id, delta_points, reason, ref_type, ref_id, balance_after "
            "FROM crypto.points_ledger WHERE id = :i"
        ),
        {"i": out["entry_id"]},
    ).one()
    assert (entry.user_id, entry.delta_points, entry.ref_type, entry.balance_after) == (
        player_id,
        250,
        "ADMIN",
        1250,
    )
    assert entry.ref_id == str(out["audit_id"])
    audit = db.execute(
        text("SELECT actor, actor_user_id, action, target, payload FROM crypto.audit_log WHERE id = :i"),
        {"i": out["audit_id"]},
    ).one()
    admin_id = admin["user"]["id"]
    assert audit.actor_user_id == admin_id and audit.actor == f"user:{admin_id}"
    assert (audit.action, audit.target) == ("points.adjust", f"user:{player_id}")
    assert audit.payload == {"delta": 250, "reason": "compensation for outage"}
    assert (
        client.get("/v1/points/balance", headers=bearer(player["access_token"])).json()["data"]["balance"]
        == 1250
    )
    assert failed_checks(db) == {}


def test_an_adjustment_below_zero_is_POINT_001_and_writes_nothing(
    client: TestClient, db: Session, admin_and_player: tuple[dict[str, Any], dict[str, Any], int]
) -> None:
    admin, player, player_id = admin_and_player
    r = client.post(
        f"/admin/users/{player_id}/adjust-points",
        json={"delta": -5000, "reason": "clawback"},
        headers=bearer(admin["access_token"]),
    )
    assert r.status_code == 409, r.text
    assert error_code(r) == "POINT_001"
    assert r.json()["error"]["details"] == {"balance": 1000, "required": 5000}
    # The audit row was written before the ledger refused: the whole request rolled back.
    assert count(db, "SELECT count(*) FROM crypto.audit_log WHERE action = 'points.adjust'") == 0
    assert count(db, "SELECT count(*) FROM crypto.points_ledger WHERE user_id = :u", u=player_id) == 1
    assert count(db, "SELECT count(*) FROM crypto.points_ledger WHERE ref_type = 'ADMIN'") == 0
    assert balance_of(db, player_id) == 1000


def test_taking_points_within_the_balance_is_allowed(
    client: TestClient, admin_and_player: tuple[dict[str, Any], dict[str, Any], int]
) -> None:
    admin, _player, player_id = admin_and_player
    r = client.post(
        f"/admin/users/{player_id}/adjust-points",
        json={"delta": -1000, "reason": "clawback all"},
        headers=bearer(admin["access_token"]),
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["balance_after"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"delta": 0, "reason": "nothing at all"},
        {"delta": 10},
        {"delta": 10, "reason": ""},
        {"delta": 10, "reason": "ok reason", "extra": 1},
        {"delta": "lots", "reason": "not a number"},
    ],
    ids=["zero-delta", "missing-reason", "empty-reason", "extra-field", "non-integer-delta"],
)
def test_an_invalid_adjustment_is_422(
    client: TestClient,
    db: Session,
    admin_and_player: tuple[dict[str, Any], dict[str, Any], int],
    body: dict[str, Any],
) -> None:
    admin, _player, player_id = admin_and_player
    r = client.post(
        f"/admin/users/{player_id}/adjust-points", json=body, headers=bearer(admin["access_token"])
    )
    assert r.status_code == 422, r.text
    assert error_code(r) == "SYS_422"
    assert count(db, "SELECT count(*) FROM crypto.audit_log WHERE action = 'points.adjust'") == 0


@pytest.mark.parametrize("delta", [10**19, 2**63 - 1000], ids=["beyond-bigint", "balance-overflows"])
def test_an_out_of_range_adjustment_is_422_not_500(
    client: TestClient,
    db: Session,
    admin_and_player: tuple[dict[str, Any], dict[str, Any], int],
    delta: int,
) -> None:
    admin, _player, player_id = admin_and_player
    r = client.post(
        f"/admin/users/{player_id}/adjust-points",
        json={"delta": delta, "reason": "overflow"},
        headers=bearer(admin["access_token"]),
    )
    assert balance_of(db, player_id) == 1000
    assert r.status_code == 422, r.text


def test_adjusting_an_unknown_user_is_USER_404(client: TestClient, db: Session) -> None:
    admin = dev_login(client, "adjust.admin404@example.com", role="ADMIN")
    r = client.post(
        "/admin/users/987654321/adjust-points",
        json={"delta": 10, "reason": "who is this"},
        headers=bearer(admin["access_token"]),
    )
    assert r.status_code == 404, r.text
    assert error_code(r) == "USER_404"
    assert count(db, "SELECT count(*) FROM crypto.audit_log WHERE action = 'points.adjust'") == 0


def test_a_player_cannot_adjust_points(
    client: TestClient, db: Session, admin_and_player: tuple[dict[str, Any], dict[str, Any], int]
) -> None:
    _admin, player, player_id = admin_and_player
    r = client.post(
        f"/admin/users/{player_id}/adjust-points",
        json={"delta": 1000000, "reason": "free money"},
        headers=bearer(player["access_token"]),
    )
    assert r.status_code == 403, r.text
    assert error_code(r) == "AUTH_003"
    r = client.post(f"/admin/users/{player_id}/adjust-points", json={"delta": 1, "reason": "anon"})
    assert r.status_code == 401
    assert balance_of(db, player_id) == 1000


# --------------------------------------------------------------------------- /admin/integrity


def test_integrity_passes_on_a_clean_state(client: TestClient) -> None:
    admin = dev_login(client, "integrity.admin@example.com", role="ADMIN")
    dev_login(client, "integrity.player@example.com")
    r = client.get("/admin/integrity", headers=bearer(admin["access_token"]))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["passed"] is True
    names = {c["name"] for c in data["checks"]}
    assert {"balance_equals_ledger_sum", "balance_equals_latest_balance_after"} <= names
    assert all(c["passed"] and c["offending"] == [] for c in data["checks"])


def test_integrity_reports_a_corrupted_balance_with_the_offending_user(
    client: TestClient, db: Session
) -> None:
    admin = dev_login(client, "integrity.admin2@example.com", role="ADMIN")
    player = dev_login(client, "integrity.victim@example.com")
    victim = player["user"]["id"]
    db.execute(
        text("UPDATE crypto.point_balances SET balance = balance + 1 WHERE user_id = :u"), {"u": victim}
    )
    db.flush()
    r = client.get("/admin/integrity", headers=bearer(admin["access_token"]))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["passed"] is False
    checks = {c["name"]: c for c in data["checks"]}
    ledger_sum = checks["balance_equals_ledger_sum"]
    assert ledger_sum["passed"] is False
    [row] = ledger_sum["offending"]
    # sum() of a bigint is numeric in PostgreSQL, so ledger_sum arrives as a decimal string.
    assert (row["user_id"], row["balance"], int(row["ledger_sum"])) == (victim, 1001, 1000)
    assert [o["user_id"] for o in checks["balance_equals_latest_balance_after"]["offending"]] == [victim]
    assert checks["inventory_reserved_within_stock"]["passed"] is True


def test_integrity_is_admin_only(client: TestClient) -> None:
    player = dev_login(client, "integrity.nosy@example.com")
    assert client.get("/admin/integrity", headers=bearer(player["access_token"])).status_code == 403
    assert client.get("/admin/integrity").status_code == 401


# --------------------------------------------------------------------------- settlement via /internal


@pytest.fixture
def settled_scenario(db: Session, clock: FrozenClock, settings: Settings) -> tuple[int, int]:
    """AAPL up, MSFT down, NVDA flat (VOID FLAT), AMZN without a close (no predictions)."""
    open_day(db, clock, settings, ["AAPL", "MSFT", "NVDA", "AMZN"])
    up = make_user(db, "settle.bull@example.com")
    down = make_user(db, "settle.bear@example.com")
    for symbol in ("AAPL", "MSFT", "NVDA"):
        predict(db, clock, settings, up, symbol, "UP")
        predict(db, clock, settings, down, symbol, "DOWN")
    add_close(db, "AAPL", DAY, "101.000000")
    add_close(db, "MSFT", DAY, "100.000000")
    add_close(db, "NVDA", DAY, "102.125000")
    db.flush()
    return up, down


def test_internal_settlement_run_settles_once_and_reports(
    client: TestClient,
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    settled_scenario: tuple[int, int],
) -> None:
    up, down = settled_scenario
    clock.set(AFTER_CLOSE)
    r = client.post(
        "/internal/settlement/run", json={"trading_day": "2026-11-23"}, headers=internal(settings)
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["job"], data["status"]) == ("settlement.run", "SUCCEEDED")
    details = data["details"]
    assert details["trading_day"] == "2026-11-23"
    assert details["symbols_settled"] == 4
    assert details["predictions_changed"] == 6
    assert (details["ledger_entries"], details["players_credited"]) == (2, 2)
    assert details["counts"] == {
        "correct": 2,
        "incorrect": 2,
        "void": 2,
        "pending": 0,
        "cancelled": 0,
        "points": 100,
    }
    assert statuses(db, up)["AAPL"] == ("CORRECT", 50, None)
    assert statuses(db, down)["MSFT"] == ("CORRECT", 50, None)
    assert statuses(db, up)["NVDA"] == ("VOID", 0, "FLAT")
    assert [balance_of(db, up), balance_of(db, down)] == [1050, 1050]

    again = client.post(
        "/internal/settlement/run", json={"trading_day": "2026-11-23"}, headers=internal(settings)
    )
    assert again.status_code == 200, again.text
    assert again.json()["data"]["details"]["symbols_settled"] == 0
    assert [balance_of(db, up), balance_of(db, down)] == [1050, 1050]
    assert count(db, "SELECT count(*) FROM crypto.points_ledger WHERE ref_type = 'SETTLEMENT'") == 2
    assert failed_checks(db) == {}


def test_admin_and_public_settlement_views(
    client: TestClient, clock: FrozenClock, settings: Settings, settled_scenario: tuple[int, int]
) -> None:
    clock.set(AFTER_CLOSE)
    assert (
        client.post(
            "/internal/settlement/run", json={"trading_day": "2026-11-23"}, headers=internal(settings)
        ).status_code
        == 200
    )
    admin = dev_login(client, "settle.admin@example.com", role="ADMIN")

    r = client.get("/admin/settlement/2026-11-23", headers=bearer(admin["access_token"]))
    assert r.status_code == 200, r.text
    summary = r.json()["data"]
    assert summary["trading_day"] == "2026-11-23"
    assert summary["settled_at"] == "2026-11-24T06:30:00+09:00"
    assert summary["counts"] == {"correct": 2, "incorrect": 2, "void": 2, "pending": 0, "cancelled": 0}
    assert summary["points_issued"] == 100
    assert summary["void_reasons"] == {"FLAT": 2}
    assert summary["symbols_by_outcome"] == {"UP": 1, "DOWN": 1, "VOID": 2}

    r = client.get("/v1/settlements/2026-11-23")  # public: no token
    assert r.status_code == 200, r.text
    day = r.json()["data"]
    assert day["trading_day"] == "2026-11-23" and day["settled_at"] == "2026-11-24T06:30:00+09:00"
    by_symbol = {s["symbol"]: s for s in day["symbols"]}
    assert [s["symbol"] for s in day["symbols"]] == ["AAPL", "AMZN", "MSFT", "NVDA"]
    aapl = by_symbol["AAPL"]
    assert (aapl["outcome"], aapl["close_price"], aapl["prev_close_price"]) == (
        "UP",
        "101.000000",
        "100.125000",
    )
    assert aapl["vendor_rev"] == 0 and aapl["void_reason"] is None
    assert (by_symbol["MSFT"]["outcome"], by_symbol["MSFT"]["close_price"]) == ("DOWN", "100.000000")
    assert (by_symbol["NVDA"]["outcome"], by_symbol["NVDA"]["void_reason"]) == ("VOID", "FLAT")
    amzn = by_symbol["AMZN"]
    assert (amzn["outcome"], amzn["close_price"], amzn["void_reason"]) == ("VOID", None, "EOD_MISSING")
    assert amzn["prev_close_price"] == "103.125000"


def test_an_unknown_day_is_SETTLE_404(client: TestClient, settings: Settings) -> None:
    admin = dev_login(client, "settle.admin404@example.com", role="ADMIN")
    r = client.get("/v1/settlements/2026-11-20")
    assert r.status_code == 404 and error_code(r) == "SETTLE_404"
    r = client.get("/admin/settlement/2026-11-20", headers=bearer(admin["access_token"]))
    assert r.status_code == 404 and error_code(r) == "SETTLE_404"
    r = client.post(
        "/internal/settlement/run", json={"trading_day": "2026-11-20"}, headers=internal(settings)
    )
    assert r.status_code == 404 and error_code(r) == "SETTLE_404"


def test_settlement_run_before_the_cutoff_is_SETTLE_001_and_recorded_as_failed(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings, settled_scenario: tuple[int, int]
) -> None:
    up, _down = settled_scenario
    r = client.post(
        "/internal/settlement/run", json={"trading_day": "2026-11-23"}, headers=internal(settings)
    )
    assert r.status_code == 409, r.text
    assert error_code(r) == "SETTLE_001"
    assert statuses(db, up)["AAPL"][0] == "PENDING"
    assert count(db, "SELECT count(*) FROM crypto.settlements") == 0
    admin = dev_login(client, "settle.jobs@example.com", role="ADMIN")
    jobs = client.get(
        "/admin/jobs", params={"job": "settlement.run"}, headers=bearer(admin["access_token"])
    ).json()["data"]
    assert [(j["job"], j["status"]) for j in jobs] == [("settlement.run", "FAILED")]
    assert "SessionNotClosedError" in jobs[0]["error"]


def test_internal_routes_need_the_internal_token(client: TestClient) -> None:
    r = client.post("/internal/settlement/run", json={"trading_day": "2026-11-23"})
    assert r.status_code == 401
    r = client.post(
        "/internal/settlement/run", json={"trading_day": "2026-11-23"}, headers={"X-Internal-Token": "wrong"}
    )
    assert r.status_code == 403


# --------------------------------------------------------------------------- vendor webhook


def vendor_event(vendor_rev: int = 1, **price: Any) -> dict[str, Any]:
    return {
        "asof": "2026-11-23",
        "vendor_rev": vendor_rev,
        "prices": [{"symbol": "AAPL", "close": "99.500000", "prev_close": "100.125000", **price}],
    }


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


@pytest.fixture
def pipeline_client(pipeline: Pipeline) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(container=pipeline.container), raise_server_exceptions=False) as c:
        yield c


def p_statuses(p: Pipeline, user_id: int) -> dict[str, tuple[str, int, str | None]]:
    with p.session() as s:
        return statuses(s, user_id)


def p_balances(p: Pipeline, *users: int) -> list[int]:
    with p.session() as s:
        return [balance_of(s, u) for u in users]


def test_a_vendor_revision_resettles_through_the_queue_and_balances_follow(
    pipeline: Pipeline,  # noqa: F811
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


# --------------------------------------------------------------------------- EOD fallback + VOID deadline


class EmptyYahoo:
    """Stands in for yfinance.download: yfinance returns an empty frame when it has nothing."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, **kwargs: Any) -> pd.DataFrame:
        self.calls += 1
        return pd.DataFrame()


def test_eod_falls_back_from_an_empty_yahoo_to_the_sandbox_and_reports_what_is_missing(
    pipeline: Pipeline,  # noqa: F811
) -> None:
    p = pipeline
    with p.session() as s:
        open_day(s, p.clock, p.settings, ["AAPL", "MSFT", "NVDA"])
    p.clock.set(MARKET_CLOSE + timedelta(minutes=20))
    download = EmptyYahoo()
    chain = [YahooEodProvider(download=download), SandboxEodProvider(unpriced=["NVDA"])]
    service = EodService(
        p.container.sessionmaker(),
        p.clock,
        p.settings,
        providers=chain,
        breakers=make_breakers(chain, p.clock, p.settings),
        sleep=lambda s: None,
    )
    result = service.fetch(DAY)
    assert result["requested"] == 3
    assert result["stored"] == 2
    assert result["missing"] == ["NVDA"]
    assert [(a["provider"], a["status"]) for a in result["attempts"]] == [
        ("yfinance", "FAILED"),
        ("yfinance", "FAILED"),
        ("yfinance", "FAILED"),
        ("sandbox", "PARTIAL"),
    ]
    assert download.calls == 3
    with p.session() as s:
        logs = s.execute(
            text("SELECT provider, status, symbols, missing_symbols FROM crypto.eod_fetch_logs ORDER BY id")
        ).all()
        prices = s.execute(
            text("SELECT symbol, provider FROM crypto.eod_prices WHERE asof = '2026-11-23' ORDER BY symbol")
        ).all()
    assert {r.status for r in logs if r.provider == "yfinance"} == {"FAILED"}
    assert [(r.provider, r.status) for r in logs if r.provider == "sandbox"] == [("sandbox", "PARTIAL")]
    assert all(
        sorted(r.missing_symbols) == ["AAPL", "MSFT", "NVDA"] for r in logs if r.provider == "yfinance"
    )
    sandbox_log = next(r for r in logs if r.provider == "sandbox")
    assert sandbox_log.missing_symbols == ["NVDA"] and sorted(sandbox_log.symbols) == ["AAPL", "MSFT", "NVDA"]
    assert [tuple(r) for r in prices] == [("AAPL", "sandbox"), ("MSFT", "sandbox")]
    # Asking again fetches only what is still missing.
    again = service.fetch(DAY)
    assert again["requested"] == 1 and again["missing"] == ["NVDA"]


def test_the_cycle_waits_for_missing_prices_until_the_void_deadline(
    pipeline: Pipeline,  # noqa: F811
) -> None:
    p = pipeline
    symbols = ["AAPL", "MSFT", "NVDA"]
    with p.session() as s:
        open_day(s, p.clock, p.settings, symbols)
        users = [make_user(s, f"deadline{i}@example.com") for i in range(2)]
        for i, u in enumerate(users):
            for symbol in symbols:
                predict(s, p.clock, p.settings, u, symbol, "UP" if i == 0 else "DOWN")
    assert p.scalar("SELECT market_close_at FROM crypto.session_control") == MARKET_CLOSE
    assert p.settings.eod_void_deadline_min == 180

    p.container.eod_providers.override(providers.Object([SandboxEodProvider(unpriced=["NVDA"])]))
    try:
        cycle = CycleService(p.container.sessionmaker(), p.clock, p.settings, get_market_calendar())

        p.clock.set(MARKET_CLOSE + timedelta(minutes=20))
        actions = cycle.tick()
        steps = [a["step"] for a in actions]
        assert "eod.fetch.request" in steps and "settlement.request" not in steps
        assert steps[0] == "cutoff"
        p.pump()
        assert p.scalar("SELECT count(*) FROM crypto.eod_prices WHERE asof = '2026-11-23'") == 2
        assert p.scalar("SELECT settled_at IS NULL FROM crypto.session_control") is True
        assert p.scalar("SELECT count(*) FROM crypto.predictions WHERE status = 'PENDING'") == 6
        assert p.scalar("SELECT count(*) FROM crypto.settlements") == 0

        # Still before the deadline: another fetch, never a settlement.
        p.clock.set(MARKET_CLOSE + timedelta(minutes=179))
        steps = [a["step"] for a in cycle.tick()]
        assert steps == ["eod.fetch.request"]
        p.pump()
        assert p.scalar("SELECT settled_at IS NULL FROM crypto.session_control") is True

        # Past the deadline: settle with what there is; NVDA is VOID for a missing price.
        p.clock.set(MARKET_CLOSE + timedelta(minutes=p.settings.eod_void_deadline_min + 1))
        actions = cycle.tick()
        assert [a["step"] for a in actions] == ["settlement.request"]
        assert actions[0]["requested"] == "settlement.requested"
        p.pump()
    finally:
        p.container.eod_providers.reset_override()

    assert p.scalar("SELECT settled_at IS NOT NULL FROM crypto.session_control") is True
    with p.session() as s:
        for u in users:
            outcome = statuses(s, u)
            assert outcome["NVDA"] == ("VOID", 0, "EOD_MISSING")
            assert {outcome[sym][0] for sym in ("AAPL", "MSFT")} <= {"CORRECT", "INCORRECT"}
        nvda = s.execute(
            text("SELECT outcome, void_reason FROM crypto.settlements WHERE symbol = 'NVDA'")
        ).one()
        assert tuple(nvda) == ("VOID", "EOD_MISSING")
        assert failed_checks(s) == {}
    # Once settled, the cycle asks for nothing more for that day.
    p.clock.set(MARKET_CLOSE + timedelta(minutes=240))
    assert all(a.get("trading_day") != "2026-11-23" for a in cycle.tick() if a["step"] != "open")


# --------------------------------------------------------------------------- outbox publish + cycle tick


def test_outbox_publish_relays_due_rows(pipeline: Pipeline, pipeline_client: TestClient) -> None:  # noqa: F811
    p = pipeline
    with p.session() as s:
        repo = OutboxRepository(s)
        for i in range(3):
            repo.add("settlement.requested", {"trading_day": "2026-11-23", "n": i}, now=p.clock.now())
    r = pipeline_client.post("/internal/outbox/publish", headers=internal(p.settings))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["claimed"], data["published"], data["failed"]) == (3, 3, 0)
    assert p.scalar("SELECT count(*) FROM crypto.outbox WHERE published_at IS NULL") == 0
    again = pipeline_client.post("/internal/outbox/publish", headers=internal(p.settings)).json()["data"]
    assert (again["claimed"], again["published"], again["failed"]) == (0, 0, 0)
    assert pipeline_client.post("/internal/outbox/publish").status_code == 401


def test_outbox_publish_on_the_live_app(
    live_client: TestClient, live_engine: Engine, settings: Settings, clock: FrozenClock, queue: SqsQueue
) -> None:
    with unit_of_work(sessionmaker(bind=live_engine)) as s:
        OutboxRepository(s).add(
            "settlement.requested", {"trading_day": "2026-11-23", "live": True}, now=clock.now()
        )
    r = live_client.post("/internal/outbox/publish", headers=internal(settings))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["claimed"], data["published"], data["failed"]) == (1, 1, 0)
    # Take our message off the shared "test-" queue again.
    name = settings.queue_names["settlement_compute"]
    bodies = []
    for _ in range(10):
        batch = queue.receive(name, 10, 0)
        for message in batch:
            bodies.append(json.loads(message.body))
            queue.delete(name, message.receipt_handle)
        if any(b["payload"].get("live") for b in bodies):
            break
    assert [b["type"] for b in bodies if b["payload"].get("live")] == ["settlement.requested"]


def test_cycle_tick_opens_the_current_trading_day_on_a_fresh_system(
    live_client: TestClient, settings: Settings
) -> None:
    r = live_client.post("/internal/cycle/tick", headers=internal(settings))
    assert r.status_code == 200, r.text
    actions = r.json()["data"]["actions"]
    assert [a["step"] for a in actions] == ["open"]
    assert actions[0]["trading_day"] == "2026-11-23"
    assert actions[0]["opened"] is True and actions[0]["default_universe_set"] is True
    today = live_client.get("/v1/session/today").json()["data"]
    assert today["trading_day"] == "2026-11-23"

    # A second tick changes nothing.
    again = live_client.post("/internal/cycle/tick", headers=internal(settings))
    assert again.json()["data"]["actions"] == []
    admin = dev_login(live_client, "tick.admin@example.com", role="ADMIN")
    jobs = live_client.get("/admin/jobs", headers=bearer(admin["access_token"])).json()["data"]
    assert [j["job"] for j in jobs if j["job"] == "session.open"] == ["session.open"]
    assert sum(1 for j in jobs if j["job"] == "cycle.tick") == 2
    assert all(j["status"] == "SUCCEEDED" for j in jobs)
    assert live_client.post("/internal/cycle/tick").status_code == 401
