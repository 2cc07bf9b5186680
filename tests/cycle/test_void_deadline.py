"""The cycle waits for missing EOD prices until the VOID deadline, then settles with what
there is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dependency_injector import providers
from sqlalchemy import text

from myapi.providers.eod.sandbox import SandboxEodProvider
from tests.support.days import MARKET_CLOSE
from tests.support.db import failed_checks, statuses
from tests.support.factories import make_user, open_day, predict
from tests.support.pipeline import Pipeline


@pytest.mark.slow  # ~5 s: EOD fetch retries and settlement through the queues
def test_the_cycle_waits_for_missing_prices_until_the_void_deadline(
    pipeline: Pipeline,
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
        cycle = p.container.jobs()

        p.clock.set(MARKET_CLOSE + timedelta(minutes=20))
        actions = cycle.tick().details["actions"]
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
        steps = [a["step"] for a in cycle.tick().details["actions"]]
        assert steps == ["eod.fetch.request"]
        p.pump()
        assert p.scalar("SELECT settled_at IS NULL FROM crypto.session_control") is True

        # Past the deadline: settle with what there is; NVDA is VOID for a missing price.
        p.clock.set(MARKET_CLOSE + timedelta(minutes=p.settings.eod_void_deadline_min + 1))
        actions = cycle.tick().details["actions"]
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
    actions = cycle.tick().details["actions"]
    assert all(a.get("trading_day") != "2026-11-23" for a in actions if a["step"] != "open")
