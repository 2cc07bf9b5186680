"""q-eod-fetch: fetch a day's closes, then ask for its settlement once complete."""

from __future__ import annotations

from datetime import date
from typing import Any

from myapi.container import Container
from myapi.cycle.jobs import JobRunner
from myapi.cycle.tick import request_settlement
from myapi.market.service import EodService


def handle_fetch_requested(container: Container, payload: dict[str, Any]) -> dict[str, Any]:
    """Idempotent: only symbols still without a price are fetched, and asking for
    settlement twice settles once."""
    day = date.fromisoformat(str(payload["trading_day"]))
    clock = container.clock()
    service = EodService(
        container.sessionmaker(),
        clock,
        container.settings(),
        container.eod_providers(),
        container.eod_breakers(),
    )
    jobs = JobRunner(container.sessionmaker(), clock)
    result = jobs.run("eod.fetch", lambda _s: service.fetch(day), day).details
    if not result["missing"]:
        jobs.run("settlement.request", lambda s: request_settlement(s, clock, day), day)
    return result
