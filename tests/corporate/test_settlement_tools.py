"""The operators' settlement tools over HTTP: settle or re-settle a day, VOID a symbol-day
(points won taken back through the ledger, a player short of them refused or written off),
and the guards: ADMIN only, strict input, nothing changed on a refusal."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from myapi.container import Container
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.db import make_sessionmaker, unit_of_work
from myapi.core.errors import AppError
from myapi.points.service import PointsLedger
from tests.corporate.conftest import closes
from tests.support.days import AFTER_CLOSE, DAY
from tests.support.db import balance_of, count, failed_checks, statuses
from tests.support.factories import add_close, make_user, open_day, predict
from tests.support.http import bearer, dev_login, error_code

RUN = f"/admin/settlement/{DAY}/run"
VOID_AAPL = f"/admin/settlement/{DAY}/AAPL/void"
HALT = {"reason": "HALT", "note": "halted before the close; no official close"}


def login(client: TestClient) -> dict[str, str]:
    """An ADMIN's headers (a token of the clock's now: log in after moving the clock)."""
    return bearer(dev_login(client, "tools.admin@example.com", role="ADMIN")["access_token"])


def settled(client: TestClient, db: Session, clock: FrozenClock) -> dict[str, str]:
    """The day settled normally: the bull wins AAPL and NVDA, the bear MSFT."""
    closes(db, AAPL="101.000000", MSFT="100.000000", NVDA="103.000000")
    clock.set(AFTER_CLOSE)
    headers = login(client)
    r = client.post(RUN, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["details"]["symbols_settled"] == 3
    return headers


def test_settling_a_day_from_admin_is_the_scheduler_job_and_idempotent(
    client: TestClient, db: Session, clock: FrozenClock, players: tuple[int, int]
) -> None:
    bull, bear = players
    headers = settled(client, db, clock)
    assert [balance_of(db, bull), balance_of(db, bear)] == [1100, 1050]
    run = db.execute(
        text("SELECT job, trading_day, status FROM crypto.job_runs WHERE job = 'settlement.run'")
    ).one()
    assert tuple(run) == ("settlement.run", DAY, "SUCCEEDED")
    audit = db.execute(
        text("SELECT actor, target, payload FROM crypto.audit_log WHERE action = 'settlement.run'")
    ).one()
    assert audit.actor.startswith("user:") and audit.target == f"session:{DAY}"
    assert audit.payload["symbols_settled"] == 3

    ledger = count(db, "SELECT count(*) FROM crypto.points_ledger")
    for _ in range(2):
        again = client.post(RUN, headers=headers).json()["data"]["details"]
        assert again["symbols_settled"] == 0
    assert count(db, "SELECT count(*) FROM crypto.points_ledger") == ledger
    assert [balance_of(db, bull), balance_of(db, bear)] == [1100, 1050]

    # Changed EOD data (a vendor revision) re-settles with compensating entries.
    db.execute(
        text(
            "INSERT INTO crypto.eod_prices (asof, symbol, vendor_rev, close_price, provider) "
            "VALUES (:d, 'NVDA', 1, 101.5, 'vendor-webhook')"
        ),
        {"d": DAY},
    )
    db.flush()
    details = client.post(RUN, headers=headers).json()["data"]["details"]
    assert details["symbols_settled"] == 1 and details["ledger_entries"] == 2
    assert statuses(db, bull)["NVDA"] == ("INCORRECT", 0, None)
    assert statuses(db, bear)["NVDA"] == ("CORRECT", 50, None)
    assert [balance_of(db, bull), balance_of(db, bear)] == [1050, 1100]
    assert failed_checks(db) == {}


def test_settling_before_the_close_or_a_day_without_session_is_refused(
    client: TestClient, db: Session, players: tuple[int, int]
) -> None:
    headers = login(client)
    r = client.post(RUN, headers=headers)  # the clock is still in the prediction window
    assert r.status_code == 409 and error_code(r) == "SETTLE_001"
    r = client.post("/admin/settlement/2026-11-27/run", headers=headers)
    assert r.status_code == 404 and error_code(r) == "SETTLE_404"
    assert count(db, "SELECT count(*) FROM crypto.predictions WHERE status = 'PENDING'") == 6


def test_voiding_a_settled_symbol_day_takes_the_points_back_through_the_ledger(
    client: TestClient, db: Session, clock: FrozenClock, players: tuple[int, int]
) -> None:
    bull, bear = players
    headers = settled(client, db, clock)
    r = client.post(VOID_AAPL, json=HALT, headers=headers)
    assert r.status_code == 200, r.text
    details = r.json()["data"]["details"]
    assert details["changed"] is True and details["applied"] is True
    assert details["review"]["status"] == "VOIDED" and details["review"]["void_reason"] == "HALT"
    assert details["predictions_before"] == {"CORRECT": 1, "INCORRECT": 1, "points": 50}
    assert details["predictions_after"] == {"VOID": 2, "points": 0}
    for player in players:
        assert statuses(db, player)["AAPL"] == ("VOID", 0, "HALT")
    assert [balance_of(db, bull), balance_of(db, bear)] == [1050, 1050]
    reversal = db.execute(
        text(
            "SELECT ref_id, delta_points, reason FROM crypto.points_ledger "
            "WHERE ref_type = 'SETTLEMENT_REVERSAL'"
        )
    ).one()
    assert tuple(reversal) == (f"{DAY}:AAPL:{bull}:void", -50, "settlement_void")
    row = db.execute(text("SELECT outcome, void_reason FROM crypto.settlements WHERE symbol = 'AAPL'")).one()
    assert tuple(row) == ("VOID", "HALT")
    audit = db.execute(
        text("SELECT target, payload FROM crypto.audit_log WHERE action = 'settlement.symbol_day.void'")
    ).one()
    assert audit.target == f"symbol_day:{DAY}:AAPL" and audit.payload["reason"] == "HALT"
    assert audit.payload["after"] == {"VOID": 2, "points": 0}
    assert failed_checks(db) == {}

    ledger = count(db, "SELECT count(*) FROM crypto.points_ledger")
    retry = client.post(VOID_AAPL, json=HALT, headers=headers)
    assert retry.status_code == 200 and retry.json()["data"]["details"]["changed"] is False
    other = client.post(VOID_AAPL, json={"reason": "BAD_DATA", "note": "another story"}, headers=headers)
    assert other.status_code == 409 and error_code(other) == "CORP_001"
    assert client.post(RUN, headers=headers).json()["data"]["details"]["symbols_settled"] == 0
    assert count(db, "SELECT count(*) FROM crypto.points_ledger") == ledger
    assert [balance_of(db, bull), balance_of(db, bear)] == [1050, 1050]
    assert failed_checks(db) == {}


def test_a_void_a_player_cannot_pay_back_is_SETTLE_002_unless_written_off(
    client: TestClient, db: Session, clock: FrozenClock, players: tuple[int, int]
) -> None:
    """The bull spent his winnings and holds part of the rest for a redemption: the VOID
    would take him below his open holds. Refused with his id and nothing changed; with
    write_off_shortfall the missing points are written off (a WRITE_OFF credit first),
    the take-back goes through, and his balance ends at his open holds."""
    bull, bear = players
    headers = settled(client, db, clock)
    ledger = PointsLedger(db, clock)
    ledger.apply(user_id=bull, delta=-1050, reason="spent", ref_type="TEST", ref_id="spent")
    ledger.hold(
        user_id=bull, amount=30, ref_type="TEST", ref_id="hold", expires_at=datetime(2030, 1, 1, tzinfo=UTC)
    )
    db.flush()
    assert balance_of(db, bull) == 50  # 30 of them held

    r = client.post(VOID_AAPL, json=HALT, headers=headers)
    assert r.status_code == 409 and error_code(r) == "SETTLE_002"
    assert r.json()["error"]["details"] == {"user_ids": [bull]}
    assert statuses(db, bull)["AAPL"] == ("CORRECT", 50, None)
    assert count(db, "SELECT count(*) FROM crypto.symbol_day_reviews") == 0
    assert balance_of(db, bull) == 50

    r = client.post(VOID_AAPL, json={**HALT, "write_off_shortfall": True}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["details"]["settlement"]["written_off"] == {"players": 1, "points": 30}
    assert statuses(db, bull)["AAPL"] == ("VOID", 0, "HALT")
    assert balance_of(db, bull) == 30
    entries = db.execute(
        text(
            "SELECT ref_type, ref_id, delta_points, balance_after FROM crypto.points_ledger "
            "WHERE user_id = :u AND ref_type IN ('WRITE_OFF', 'SETTLEMENT_REVERSAL') ORDER BY id"
        ),
        {"u": bull},
    ).all()
    assert [tuple(e) for e in entries] == [
        ("WRITE_OFF", f"{DAY}:AAPL:{bull}:void", 30, 80),
        ("SETTLEMENT_REVERSAL", f"{DAY}:AAPL:{bull}:void", -50, 30),
    ]
    assert balance_of(db, bear) == 1050
    assert failed_checks(db) == {}


def test_a_symbol_day_voided_before_the_close_is_applied_by_the_days_settlement(
    client: TestClient, db: Session, clock: FrozenClock, players: tuple[int, int]
) -> None:
    r = client.post(f"/admin/settlement/{DAY}/NVDA/void", json=HALT, headers=login(client))
    assert r.status_code == 200, r.text
    details = r.json()["data"]["details"]
    assert (details["changed"], details["applied"], details["settlement"]) == (True, False, None)
    assert statuses(db, players[0])["NVDA"] == ("PENDING", 0, None)

    closes(db, AAPL="101.000000", MSFT="100.000000", NVDA="150.000000")
    clock.set(AFTER_CLOSE)
    assert client.post(RUN, headers=login(client)).json()["data"]["details"]["symbols_settled"] == 3
    for player in players:
        assert statuses(db, player)["NVDA"] == ("VOID", 0, "HALT")
    assert statuses(db, players[0])["AAPL"] == ("CORRECT", 50, None)
    assert failed_checks(db) == {}


def test_voiding_a_symbol_outside_the_days_universe_is_CORP_404(
    client: TestClient, db: Session, players: tuple[int, int]
) -> None:
    headers = login(client)
    r = client.post(f"/admin/settlement/{DAY}/TSLA/void", json=HALT, headers=headers)
    assert r.status_code == 404 and error_code(r) == "CORP_404"
    r = client.post("/admin/settlement/2026-11-27/AAPL/void", json=HALT, headers=headers)
    assert r.status_code == 404 and error_code(r) == "SETTLE_404"
    assert count(db, "SELECT count(*) FROM crypto.symbol_day_reviews") == 0


NEW_ROUTES = [
    ("POST", RUN, None),
    ("POST", VOID_AAPL, HALT),
    ("GET", "/admin/corporate-actions?status=HELD", None),
    ("POST", f"/admin/corporate-actions/{DAY}/AAPL/decide", {"decision": "VOID", "reason": "a reason"}),
]


def test_every_new_route_refuses_a_player_and_an_anonymous_caller(
    client: TestClient, db: Session, clock: FrozenClock, players: tuple[int, int]
) -> None:
    closes(db, AAPL="101.000000", MSFT="100.000000", NVDA="103.000000")
    clock.set(AFTER_CLOSE)
    player = bearer(dev_login(client, "tools.player@example.com")["access_token"])
    for method, path, body in NEW_ROUTES:
        r = client.request(method, path, json=body, headers=player)
        assert r.status_code == 403 and error_code(r) == "AUTH_003", (method, path)
        r = client.request(method, path, json=body)
        assert r.status_code == 401 and error_code(r) == "AUTH_001", (method, path)
    assert count(db, "SELECT count(*) FROM crypto.predictions WHERE status = 'PENDING'") == 6
    assert count(db, "SELECT count(*) FROM crypto.job_runs WHERE job = 'settlement.run'") == 0
    assert count(db, "SELECT count(*) FROM crypto.symbol_day_reviews") == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (VOID_AAPL, {"reason": "SPLIT", "note": "not a reason we know"}),
        (VOID_AAPL, {"reason": "HALT"}),
        (VOID_AAPL, {"reason": "HALT", "note": "ok"}),  # too short
        (VOID_AAPL, {"reason": "HALT", "note": "a note\x00with a NUL"}),
        (VOID_AAPL, {**HALT, "write_off_shortfall": "true"}),
        (VOID_AAPL, {**HALT, "extra": 1}),
        (f"/admin/settlement/{DAY}/aa$/void", HALT),
        (f"/admin/settlement/{DAY}/TOOLONGSYMBOL/void", HALT),
        ("/admin/settlement/2026-13-01/AAPL/void", HALT),
        (f"/admin/corporate-actions/{DAY}/AAPL/decide", {"decision": "MAYBE", "reason": "a reason"}),
        (f"/admin/corporate-actions/{DAY}/AAPL/decide", {"decision": "SETTLE"}),
        (f"/admin/corporate-actions/{DAY}/AAPL/decide", {"decision": "SETTLE", "reason": " " * 10}),
        (f"/admin/corporate-actions/{DAY}/AAPL/decide", {"decision": "VOID", "reason": "ok reason", "x": 1}),
        ("/admin/settlement/not-a-day/run", None),
    ],
)
def test_bad_input_is_a_422_envelope_and_changes_nothing(
    client: TestClient,
    db: Session,
    clock: FrozenClock,
    players: tuple[int, int],
    path: str,
    body: dict[str, object] | None,
) -> None:
    closes(db, AAPL="101.000000", MSFT="100.000000", NVDA="103.000000")
    clock.set(AFTER_CLOSE)
    r = client.post(path, json=body, headers=login(client))
    assert r.status_code == 422, r.text
    assert r.json()["success"] is False and error_code(r) == "SYS_422"
    assert count(db, "SELECT count(*) FROM crypto.predictions WHERE status = 'PENDING'") == 6
    assert count(db, "SELECT count(*) FROM crypto.symbol_day_reviews") == 0


def test_an_unknown_status_filter_is_422(client: TestClient) -> None:
    headers = login(client)
    r = client.get("/admin/corporate-actions?status=PENDING", headers=headers)
    assert r.status_code == 422 and error_code(r) == "SYS_422"
    r = client.get("/admin/corporate-actions?limit=1000", headers=headers)
    assert r.status_code == 422 and error_code(r) == "SYS_422"


def test_concurrent_voids_of_one_symbol_day_take_the_points_back_once(
    live_container: Container, live_engine: Engine, clock: FrozenClock, settings: Settings
) -> None:
    """Four operators void the same settled symbol-day at once (real threads, real
    commits): the day's session lock serialises them; one applies, the others find it
    done (or VOID with another reason: CORP_001), and the points come back once."""
    factory = make_sessionmaker(live_engine)
    with unit_of_work(factory) as s:
        open_day(s, clock, settings, ["AAPL", "MSFT"])
        bull = make_user(s, "race.bull@example.com")
        operator = make_user(s, "race.operator@example.com", balance=0)
        predict(s, clock, settings, bull, "AAPL", "UP")
        add_close(s, "AAPL", DAY, "101.000000")
        add_close(s, "MSFT", DAY, "101.000000")
    clock.set(AFTER_CLOSE)
    jobs = live_container.jobs()
    jobs.settle(DAY)
    reasons = ["HALT", "HALT", "HALT", "BAD_DATA"]
    outcomes: list[object] = []
    barrier = threading.Barrier(len(reasons))

    def void(reason: str) -> None:
        barrier.wait()
        try:
            result = jobs.void_symbol_day(
                DAY,
                "AAPL",
                reason=reason,
                note="race",
                actor=f"user:{operator}",  # type: ignore[arg-type]
            )
            outcomes.append(result.details["changed"])
        except AppError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=void, args=(r,)) for r in reasons]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes.count(True) == 1 and len(outcomes) == 4
    assert set(outcomes) - {True} <= {False, "CORP_001"}
    with unit_of_work(factory) as s:
        assert statuses(s, bull)["AAPL"][0] == "VOID"
        assert balance_of(s, bull) == 1000
        assert (
            count(s, "SELECT count(*) FROM crypto.points_ledger WHERE ref_type = 'SETTLEMENT_REVERSAL'") == 1
        )
        assert failed_checks(s, now=clock.now()) == {}
