"""`python -m myapi.dashboard.rebuild`: the summary rows of days settled without one (before
migration 0014), written as the settlement follow-up writes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import Engine, text

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.db import make_sessionmaker, unit_of_work
from myapi.settlement.service import SettlementService
from scripts.bench.common import ROOT
from tests.support.days import AFTER_CLOSE, DAY
from tests.support.factories import add_close, make_user, open_day, predict


def test_the_rebuild_writes_the_summary_of_a_settled_day(
    live_engine: Engine, clock: FrozenClock, settings: Settings
) -> None:
    with unit_of_work(make_sessionmaker(live_engine)) as db:
        open_day(db, clock, settings, ["AAPL", "MSFT"])
        up, down = make_user(db, "rebuild.up@example.com"), make_user(db, "rebuild.down@example.com")
        for user, choice in ((up, "UP"), (down, "DOWN")):
            predict(db, clock, settings, user, "AAPL", choice)
        add_close(db, "AAPL", DAY, "101.000000")
        add_close(db, "MSFT", DAY, "100.000000")
    clock.set(AFTER_CLOSE)
    with unit_of_work(make_sessionmaker(live_engine)) as db:
        SettlementService(db, clock, settings).settle(DAY)  # no follow-up: no summary row

    env = {**os.environ, "DATABASE_URL": settings.database_url, "ENVIRONMENT": "test"}
    command = [sys.executable, "-m", "myapi.dashboard.rebuild", "--from", "2026-11-20", "--to", "2026-11-24"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    day, summary = (json.loads(line) for line in done.stdout.strip().splitlines())
    assert summary == {"days": 1, "failed": 0}
    assert day == {
        "trading_day": "2026-11-23", "summarised": True, "symbols": 1, "predictions": 2,
        "participants": 2, "dau": 2, "points_issued": 50, "points_spent": 0,
    }  # fmt: skip
    with live_engine.connect() as conn:
        row = conn.execute(text("SELECT predictions, correct, incorrect FROM crypto.dashboard_days")).one()
        runs = (
            conn.execute(text("SELECT status FROM crypto.job_runs WHERE job = 'dashboard.rebuild'"))
            .scalars()
            .all()
        )
    assert tuple(row) == (2, 1, 1)
    assert runs == ["SUCCEEDED"]
