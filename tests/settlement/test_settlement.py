"""Settlement on a hand-checked fixture, idempotency, and EOD revisions both ways."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from myapi.admin.repository import IntegrityRepository
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.db import make_sessionmaker, unit_of_work
from myapi.points.service import PointsLedger
from myapi.settlement.service import ReversalExceedsBalanceError, SessionNotClosedError, SettlementService
from tests.support.db import count, statuses
from tests.support.factories import add_close, make_user, open_day, predict

DAY = date(2026, 11, 23)
AFTER_CLOSE = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # 06:30 KST Tuesday
# Baselines from open_day: AAPL 100.125, MSFT 101.125, NVDA 102.125, AMZN 103.125
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "NOBASE")


def assert_integrity(db: Session) -> None:
    failed = {r.name: r.offending for r in IntegrityRepository(db).run() if not r.passed}
    assert failed == {}


def balances(db: Session, *users: int) -> list[int]:
    return [
        int(
            db.execute(
                text("SELECT balance FROM crypto.point_balances WHERE user_id = :u"), {"u": u}
            ).scalar_one()
        )
        for u in users
    ]


@pytest.fixture
def scenario(db: Session, clock: FrozenClock, settings: Settings) -> tuple[int, int]:
    open_day(db, clock, settings, SYMBOLS[:4])
    # NOBASE joins the universe with no previous close known. A symbol without a baseline
    # cannot be predicted any more (PRED_006); predictions without one (made before that
    # rule) must still settle VOID NO_BASELINE, so NOBASE gets a baseline just long enough
    # to be predicted and its predictions lose theirs below.
    from myapi.cycle.calendar import get_market_calendar
    from myapi.universe.service import UniverseService

    UniverseService(db, clock, settings, get_market_calendar()).upsert(DAY, list(SYMBOLS), actor="test")
    up = make_user(db, "bull@example.com")
    down = make_user(db, "bear@example.com")
    for symbol in ("AAPL", "MSFT", "NVDA"):
        predict(db, clock, settings, up, symbol, "UP")
        predict(db, clock, settings, down, symbol, "DOWN")
    # Slots: 3 each; AMZN and NOBASE after an ad-free cooldown is too slow, so give slots.
    db.execute(text("UPDATE crypto.user_limits SET base_slots = 10"))
    db.execute(
        text(
            "UPDATE crypto.active_universe SET baseline_price = 1, baseline_at = now() "
            "WHERE symbol = 'NOBASE'"
        )
    )
    for symbol in ("AMZN", "NOBASE"):
        predict(db, clock, settings, up, symbol, "UP")
        predict(db, clock, settings, down, symbol, "DOWN")
    db.execute(
        text(
            "UPDATE crypto.predictions SET baseline_price = NULL, baseline_at = NULL WHERE symbol = 'NOBASE'"
        )
    )
    add_close(db, "AAPL", DAY, "101.000000")  # > 100.125: UP wins
    add_close(db, "MSFT", DAY, "100.000000")  # < 101.125: DOWN wins
    add_close(db, "NVDA", DAY, "102.125000")  # = baseline: VOID FLAT
    add_close(db, "NOBASE", DAY, "50.000000")  # price but no baseline: VOID NO_BASELINE
    # AMZN: no EOD at all -> VOID EOD_MISSING
    db.flush()
    clock.set(AFTER_CLOSE)
    return up, down


def settle(db: Session, clock: FrozenClock, settings: Settings) -> dict[str, object]:
    result = SettlementService(db, clock, settings).settle(DAY)
    db.flush()
    return result


def test_hand_checked_outcomes_and_points(
    db: Session, clock: FrozenClock, settings: Settings, scenario: tuple[int, int]
) -> None:
    up, down = scenario
    result = settle(db, clock, settings)
    assert result["symbols_settled"] == 5
    assert statuses(db, up) == {
        "AAPL": ("CORRECT", 50, None),
        "MSFT": ("INCORRECT", 0, None),
        "NVDA": ("VOID", 0, "FLAT"),
        "AMZN": ("VOID", 0, "EOD_MISSING"),
        "NOBASE": ("VOID", 0, "NO_BASELINE"),
    }
    assert statuses(db, down) == {
        "AAPL": ("INCORRECT", 0, None),
        "MSFT": ("CORRECT", 50, None),
        "NVDA": ("VOID", 0, "FLAT"),
        "AMZN": ("VOID", 0, "EOD_MISSING"),
        "NOBASE": ("VOID", 0, "NO_BASELINE"),
    }
    assert balances(db, up, down) == [1050, 1050]
    refs = db.execute(
        text(
            "SELECT ref_type, ref_id, delta_points FROM crypto.points_ledger "
            "WHERE ref_type LIKE 'SETTLEMENT%' ORDER BY ref_id"
        )
    ).all()
    assert [(r.ref_type, r.ref_id, r.delta_points) for r in refs] == [
        ("SETTLEMENT", f"2026-11-23:AAPL:{up}", 50),
        ("SETTLEMENT", f"2026-11-23:MSFT:{down}", 50),
    ]
    settlement = db.execute(
        text("SELECT outcome, close_price, prev_close_price FROM crypto.settlements WHERE symbol = 'AAPL'")
    ).one()
    assert settlement.outcome == "UP" and settlement.close_price == Decimal("101.000000")
    session = db.execute(text("SELECT phase, settled_at FROM crypto.session_control")).one()
    assert session.phase == "SETTLE" and session.settled_at is not None
    events = count(db, "SELECT count(*) FROM crypto.outbox WHERE topic = 'points.awarded'")
    assert events == 2
    assert_integrity(db)


def test_rerunning_changes_nothing(
    db: Session, clock: FrozenClock, settings: Settings, scenario: tuple[int, int]
) -> None:
    up, down = scenario
    settle(db, clock, settings)
    for _ in range(3):
        again = settle(db, clock, settings)
        assert again["symbols_settled"] == 0
    assert balances(db, up, down) == [1050, 1050]
    assert count(db, "SELECT count(*) FROM crypto.points_ledger WHERE ref_type = 'SETTLEMENT'") == 2
    assert_integrity(db)


def test_a_revision_flips_outcomes_both_ways_and_balances_follow(
    db: Session, clock: FrozenClock, settings: Settings, scenario: tuple[int, int]
) -> None:
    up, down = scenario
    settle(db, clock, settings)
    add_close(db, "AAPL", DAY, "99.000000", vendor_rev=1)  # AAPL actually fell
    db.flush()
    result = settle(db, clock, settings)
    assert result["symbols_settled"] == 1
    assert statuses(db, up)["AAPL"] == ("INCORRECT", 0, None)
    assert statuses(db, down)["AAPL"] == ("CORRECT", 50, None)
    assert balances(db, up, down) == [1000, 1100]
    # The same revision again changes nothing.
    assert settle(db, clock, settings)["symbols_settled"] == 0
    assert balances(db, up, down) == [1000, 1100]
    # ...and a later revision flips it back.
    add_close(db, "AAPL", DAY, "101.500000", vendor_rev=2)
    db.flush()
    settle(db, clock, settings)
    assert statuses(db, up)["AAPL"] == ("CORRECT", 50, None)
    assert balances(db, up, down) == [1050, 1050]
    ledger = db.execute(
        text(
            "SELECT ref_type, ref_id, delta_points FROM crypto.points_ledger "
            "WHERE symbol = 'AAPL' ORDER BY id"
        )
    ).all()
    assert sorted((r.ref_type, r.delta_points) for r in ledger) == [
        ("SETTLEMENT", 50),
        ("SETTLEMENT", 50),
        ("SETTLEMENT", 50),
        ("SETTLEMENT_REVERSAL", -50),
        ("SETTLEMENT_REVERSAL", -50),
    ]
    assert len({r.ref_id for r in ledger}) == 5
    assert_integrity(db)


def test_a_reversal_larger_than_the_balance_is_SETTLE_002_and_changes_nothing(
    db: Session, clock: FrozenClock, settings: Settings, scenario: tuple[int, int]
) -> None:
    """A balance never goes negative: when a revision would take back more points than
    a player still has (spent since), the settlement refuses with SETTLE_002, names the
    player, and its transaction leaves everything as it was."""
    up, down = scenario
    settle(db, clock, settings)  # up wins AAPL: 1050
    PointsLedger(db, clock).apply(user_id=up, delta=-1030, reason="spent", ref_type="TEST", ref_id="spend")
    add_close(db, "AAPL", DAY, "99.000000", vendor_rev=1)  # AAPL actually fell: -50 for up
    db.flush()
    before = (statuses(db, up), statuses(db, down), balances(db, up, down))
    with pytest.raises(ReversalExceedsBalanceError) as caught, db.begin_nested():
        settle(db, clock, settings)
    assert caught.value.code == "SETTLE_002"
    assert caught.value.details == {"user_ids": [up]}
    assert (statuses(db, up), statuses(db, down), balances(db, up, down)) == before
    assert balances(db, up) == [20]
    assert_integrity(db)


def test_a_late_price_resettles_a_void_symbol(
    db: Session, clock: FrozenClock, settings: Settings, scenario: tuple[int, int]
) -> None:
    up, down = scenario
    settle(db, clock, settings)
    add_close(db, "AMZN", DAY, "110.000000")
    db.flush()
    assert settle(db, clock, settings)["symbols_settled"] == 1
    assert statuses(db, up)["AMZN"] == ("CORRECT", 50, None)
    assert statuses(db, down)["AMZN"] == ("INCORRECT", 0, None)
    assert balances(db, up, down) == [1100, 1050]
    assert_integrity(db)


def test_a_win_and_a_reversal_in_one_run_chain_balance_after_in_id_order(
    db: Session, clock: FrozenClock, settings: Settings, scenario: tuple[int, int]
) -> None:
    """One run gives a player a reversal (AAPL's revision) and a win (AMZN's late price).
    The bulk ledger computes balance_after as a running sum; the ids must be assigned in
    that same order, so that by id every entry is the previous one plus its delta and
    the latest entry by id is the balance (the integrity check reads by id)."""
    up, _down = scenario
    settle(db, clock, settings)  # up: +50 on AAPL, AMZN VOID (no price)
    add_close(db, "AAPL", DAY, "99.000000", vendor_rev=1)  # AAPL fell after all: -50
    add_close(db, "AMZN", DAY, "110.000000")  # AMZN's price arrives: +50
    db.flush()
    result = settle(db, clock, settings)
    assert result["ledger_entries"] == 3  # up: reversal + win; down: AAPL win
    rows = db.execute(
        text("SELECT delta_points, balance_after FROM crypto.points_ledger WHERE user_id = :u ORDER BY id"),
        {"u": up},
    ).all()
    running = 0
    for delta, balance_after in rows:
        running += delta
        assert balance_after == running
    assert sorted(d for d, _ in rows[-2:]) == [-50, 50]
    assert balances(db, up) == [running] == [1050]
    assert_integrity(db)


def test_settling_before_the_cutoff_is_refused(db: Session, clock: FrozenClock, settings: Settings) -> None:
    open_day(db, clock, settings, ["AAPL"])
    with pytest.raises(SessionNotClosedError):
        SettlementService(db, clock, settings).settle(DAY)


def test_a_point_change_racing_the_bulk_ledger_is_kept(
    live_engine: Engine, clock: FrozenClock, settings: Settings
) -> None:
    """The bulk ledger creates or locks every winner's balance row before reading it. A
    player's adjustment that holds the row while the settlement runs makes the settlement
    wait, and both land: balance = bonus + adjustment + wins, every balance_after chain
    consistent (real commits, two threads)."""
    factory = make_sessionmaker(live_engine)
    with unit_of_work(factory) as db:
        open_day(db, clock, settings, ("AAPL", "MSFT"))
        winner = make_user(db, "racer@example.com")
        predict(db, clock, settings, winner, "AAPL", "UP")
        predict(db, clock, settings, winner, "MSFT", "DOWN")
        add_close(db, "AAPL", DAY, "101.000000")
        add_close(db, "MSFT", DAY, "100.000000")
    clock.set(AFTER_CLOSE)

    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def adjust() -> None:
        try:
            with unit_of_work(factory) as db:
                PointsLedger(db, clock).apply(
                    user_id=winner, delta=7, reason="test", ref_type="TEST", ref_id="race"
                )
                holding.set()
                release.wait(10)
        except BaseException as exc:  # reported below
            errors.append(exc)
            holding.set()

    def settle_day() -> None:
        try:
            with unit_of_work(factory) as db:
                SettlementService(db, clock, settings).settle(DAY)
        except BaseException as exc:
            errors.append(exc)

    adjuster = threading.Thread(target=adjust)
    adjuster.start()
    assert holding.wait(10)
    settler = threading.Thread(target=settle_day)
    settler.start()
    # The settlement is blocked on the player's balance row, held by the adjustment.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _waiting_on_a_lock(live_engine):
        time.sleep(0.05)
    assert _waiting_on_a_lock(live_engine)
    release.set()
    adjuster.join(10)
    settler.join(30)
    assert errors == []
    with unit_of_work(factory) as db:
        assert balances(db, winner) == [1000 + 7 + 2 * settings.points_win_reward]
        assert_integrity(db)


def _waiting_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )
