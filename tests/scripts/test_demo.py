"""`make demo` (scripts/demo): the week it picks from the calendar, its refusal in
production, and one simulated day of the real thing — every process of the system as
subprocesses on one accelerated clock, bots playing over HTTP — checked in its narration
and in the database it leaves (no timing is asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from myapi.cycle.calendar import MarketCalendar
from scripts import devstack
from scripts.bench.common import ROOT
from scripts.demo.__main__ import clock_environment
from scripts.demo.plan import notable_day, plan

CALENDAR = MarketCalendar(date(2026, 12, 1))
CLOSE_PLUS_2_MIN = timedelta(hours=21, minutes=2)  # 16:00 New York (EST) = 21:00 UTC, + 2 minutes


def test_the_week_before_christmas_holds_the_early_close_the_holiday_and_a_weekend() -> None:
    demo = plan(CALENDAR, datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    assert notable_day(CALENDAR, date(2026, 12, 1)) == date(2026, 12, 24)
    assert demo.first_day == date(2026, 12, 23)
    # Two minutes after Tuesday's close (16:00 New York = 06:00 KST Wednesday).
    assert demo.start_at == datetime(2026, 12, 22, 21, 2, tzinfo=UTC)
    assert demo.end_at - demo.start_at == timedelta(days=7)
    assert demo.sessions == (date(2026, 12, 23), date(2026, 12, 24), date(2026, 12, 28), date(2026, 12, 29))
    assert [(n.day, n.what) for n in demo.notes] == [
        (date(2026, 12, 24), "early close"), (date(2026, 12, 25), "holiday"), (date(2026, 12, 26), "weekend"),
    ]  # fmt: skip
    assert demo.wall_seconds == pytest.approx(7 * 60)  # a simulated day per real minute


def test_without_a_holiday_near_the_demo_starts_with_the_next_session() -> None:
    demo = plan(CALENDAR, datetime(2026, 9, 15, 12, 0, tzinfo=UTC), speed=3000, days=3)
    assert demo.first_day == date(2026, 9, 16)  # Tuesday's session is under way; Wednesday is next
    assert [n.what for n in demo.notes] == []
    assert demo.sessions == (
        date(2026, 9, 16),
        date(2026, 9, 17),
        date(2026, 9, 18),
    )  # Friday closes 2 min before the end
    assert demo.start_at == datetime(2026, 9, 15, 20, 2, tzinfo=UTC)  # 16:00 EDT + 2 min


def test_a_chosen_first_day_must_be_a_session_and_the_days_positive() -> None:
    assert plan(CALENDAR, datetime(2026, 12, 1, tzinfo=UTC), first_day=date(2026, 12, 7)).start_at == (
        datetime(2026, 12, 4, tzinfo=UTC) + CLOSE_PLUS_2_MIN
    )
    with pytest.raises(ValueError, match="not an NYSE trading day"):
        plan(CALENDAR, datetime(2026, 12, 1, tzinfo=UTC), first_day=date(2026, 12, 25))
    with pytest.raises(ValueError):
        plan(CALENDAR, datetime(2026, 12, 1, tzinfo=UTC), days=0)


def test_every_process_gets_the_same_clock_and_a_tick_of_about_ten_simulated_minutes() -> None:
    demo = plan(CALENDAR, datetime(2026, 12, 1, tzinfo=UTC))
    anchor = datetime(2026, 12, 1, 0, 0, 5, tzinfo=UTC)
    env = clock_environment(demo, anchor)
    assert env == {
        "CLOCK_START_AT": "2026-12-22T21:02:00+00:00",
        "CLOCK_ANCHOR_AT": "2026-12-01T00:00:05+00:00",
        "CLOCK_SPEED": "1440.0",
        "SCHEDULER_TICK_INTERVAL_S": "0.417",
    }


def test_the_demo_is_refused_in_production() -> None:
    env = {**os.environ, "ENVIRONMENT": "production"}
    done = subprocess.run(
        [sys.executable, "-m", "scripts.demo", "--exit"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "refused" in done.stderr and "production" in done.stderr


@pytest.fixture
def demo_database(postgres: devstack.Postgres) -> Iterator[str]:
    name = devstack.unique_database_name("oxu_demo")
    url = devstack.render_url(postgres.create_database(name))
    yield url
    postgres.drop_database(name)


@pytest.mark.slow
def test_one_simulated_day_opens_closes_settles_ranks_and_issues_rewards(
    demo_database: str, sqs_endpoint: str
) -> None:
    port = devstack.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": demo_database,
        "SQS_ENDPOINT_URL": sqs_endpoint,
        "QUEUE_PREFIX": f"demo{uuid.uuid4().hex[:8]}-",
        "API_PORT": str(port),
    }
    command = [
        sys.executable, "-m", "scripts.demo", "--days", "1", "--speed", "1800", "--bots", "4", "--exit",
        "--timeout", "300",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=420)
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-4000:]
    demo = plan(MarketCalendar(datetime.now(UTC).date()), datetime.now(UTC), speed=1800, days=1)
    day = demo.first_day.isoformat()
    for said in (
        f"day {day} opened", f"cutoff: the board for {day} is closed", f"market closed for {day}",
        f"EOD fetched for {day}", f"settled {day}", f"leaderboard, week of {day}: 1. ", "reward issued: ",
        "server errors: 0", "=== play it yourself: ",
    ):  # fmt: skip
        assert said in out, (said, out[-4000:])
    assert "! " not in out, out  # no bot, narrator or process trouble was reported

    engine = create_engine(demo_database)
    try:
        with engine.connect() as conn:
            session = conn.execute(
                text("SELECT phase, settled_at FROM crypto.session_control WHERE trading_day = :d"),
                {"d": day},
            ).one()
            statuses = dict(conn.execute(text(
                "SELECT status, count(*) FROM crypto.predictions WHERE trading_day = :d GROUP BY status"
            ), {"d": day}).all())  # fmt: skip
            awards = conn.execute(text(
                "SELECT count(*), COALESCE(sum(delta_points), 0) FROM crypto.points_ledger "
                "WHERE ref_type = 'SETTLEMENT' AND trading_day = :d"
            ), {"d": day}).one()  # fmt: skip
            issued = conn.execute(
                text("SELECT count(*) FROM crypto.rewards_redemptions WHERE status = 'ISSUED'")
            ).scalar_one()
            late = conn.execute(text(
                "SELECT count(*) FROM crypto.predictions p JOIN crypto.session_control s USING (trading_day) "
                "WHERE p.submitted_at >= s.predict_cutoff_at"
            )).scalar_one()  # fmt: skip
    finally:
        engine.dispose()
    # Settled on the simulated clock, days ahead of the real one: every process agreed on it.
    assert session.phase == "SETTLE" and session.settled_at >= demo.start_at + timedelta(hours=20)
    assert statuses.get("PENDING", 0) == 0 and statuses.get("CORRECT", 0) + statuses.get("INCORRECT", 0) > 0
    assert awards[0] == statuses.get("CORRECT", 0) and awards[1] == 50 * awards[0]
    assert issued >= 1
    assert late == 0
