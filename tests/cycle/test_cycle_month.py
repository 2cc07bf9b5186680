"""A simulated month of the self-healing cycle: ticks every 15 simulated minutes (some
skipped, some doubled) from late October to December 2026 — across the November DST
switch and Thanksgiving — with players predicting every open day, the EOD fetch and the
settlement going through the real queues. Every trading day must be opened, cut off,
fetched and settled exactly once, in order."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from myapi.core.enums import Choice, Phase
from myapi.cycle.calendar import get_market_calendar
from myapi.cycle.repository import SessionsRepository
from myapi.predictions.service import PredictionService
from tests.support.db import cycle_steps
from tests.support.factories import make_user
from tests.support.pipeline import Pipeline

START = datetime(2026, 10, 29, 21, 0, tzinfo=UTC)  # Fri 2026-10-30 06:00 KST, after Thursday's close
END = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # Tue 09:00 KST: Nov 30 settled, Dec 1 open
STEP = timedelta(minutes=15)


@pytest.mark.slow  # 100-240 s here: a tick every 15 simulated minutes for a month, through the queues
@pytest.mark.timeout(900)  # CPU-bound; the suite-wide 300 s is too tight on a busy machine
def test_a_month_of_ticks_runs_every_trading_day_once_in_order(pipeline: Pipeline) -> None:
    p = pipeline
    calendar = get_market_calendar()
    p.clock.set(START)
    with p.session() as s:
        players = [make_user(s, f"month{i}@example.com") for i in range(3)]
    cycle = p.container.jobs()
    rng = random.Random(20261123)
    predicted: set[date] = set()
    ticks = skipped = doubled = 0

    now = START
    while now < END:
        p.clock.set(now)
        roll = rng.random()
        if roll < 0.1:
            skipped += 1  # a missed schedule
        else:
            for _ in range(2 if roll > 0.9 else 1):  # sometimes delivered twice
                cycle.tick().details["actions"]
                ticks += 1
            doubled += roll > 0.9
            p.pump_if_sent()
        # Players predict on every open day, once, soon after it opens.
        day = calendar.trading_day_for(now)
        if day not in predicted:
            with p.session() as s:
                row = SessionsRepository(s).get(day)
                if row is not None and row.phase == Phase.PREDICT and now < row.predict_cutoff_at:
                    service = PredictionService(s, p.clock, p.settings, calendar)
                    for i, user in enumerate(players):
                        service.submit(user, "AAPL", Choice.UP if i % 2 == 0 else Choice.DOWN)
                        service.submit(user, "MSFT", Choice.DOWN if i % 2 == 0 else Choice.UP)
                    predicted.add(day)
        now += STEP

    assert skipped > 100 and doubled > 100 and ticks > 2500

    expected_days = []
    d = date(2026, 10, 30)
    while d <= date(2026, 11, 30):
        if calendar.is_trading_day(d):
            expected_days.append(d)
        d += timedelta(days=1)
    assert date(2026, 11, 26) not in expected_days  # Thanksgiving

    with p.engine.connect() as conn:
        sessions = conn.execute(
            text(
                "SELECT trading_day, phase, predict_open_at, predict_cutoff_at, settled_at "
                "FROM crypto.session_control ORDER BY trading_day"
            )
        ).all()
        days = [r.trading_day for r in sessions]
        # Every trading day of the month had a session (the 1st of December is still open).
        assert days[: len(expected_days)] == expected_days
        assert days[len(expected_days) :] == [date(2026, 12, 1)]
        for r in sessions[: len(expected_days)]:
            assert r.phase == "SETTLE" and r.settled_at is not None, r.trading_day
        # In order: each day opened after the previous one was settled.
        for prev, cur in zip(sessions, sessions[1:], strict=False):
            assert prev.settled_at is not None and cur.predict_open_at >= prev.settled_at
        # DST: the cutoff is 22:25 KST before the November switch and 23:25 after it.
        cutoffs = {r.trading_day: r.predict_cutoff_at.astimezone(UTC) for r in sessions}
        assert cutoffs[date(2026, 10, 30)] == datetime(2026, 10, 30, 13, 25, tzinfo=UTC)
        assert cutoffs[date(2026, 11, 2)] == datetime(2026, 11, 2, 14, 25, tzinfo=UTC)

        steps = cycle_steps(conn)
        opened, cut, fetched, settled = (steps[k] for k in ("opened", "cut", "fetched", "settled"))
        for day in expected_days:
            assert opened.get(day) == 1, ("opened", day)
            assert cut.get(day) == 1, ("cut off", day)
            assert fetched.get(day) == 1, ("fetched", day)
            assert settled.get(day) == 1, ("settled", day)

        # Every prediction of a settled day is settled; every win paid exactly once.
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM crypto.predictions p "
                    "JOIN crypto.session_control s USING (trading_day) "
                    "WHERE s.settled_at IS NOT NULL AND p.status = 'PENDING'"
                )
            ).scalar_one()
            == 0
        )
        correct = conn.execute(
            text("SELECT count(*) FROM crypto.predictions WHERE status = 'CORRECT'")
        ).scalar_one()
        awards = conn.execute(
            text("SELECT count(*) FROM crypto.points_ledger WHERE ref_type = 'SETTLEMENT'")
        ).scalar_one()
        assert correct == awards > 0
        assert conn.execute(text("SELECT sum(balance) FROM crypto.point_balances")).scalar_one() == (
            3 * 1000 + 50 * correct
        )
    from myapi.admin.repository import IntegrityRepository

    with p.session() as s:
        assert [r.name for r in IntegrityRepository(s).run() if not r.passed] == []
