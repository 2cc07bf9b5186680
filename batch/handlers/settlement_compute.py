"""q-settlement-compute: settle a day; also the scheduled cycle tick."""

from __future__ import annotations

from datetime import date
from typing import Any

from myapi.container import Container
from myapi.cycle.jobs import JobRunner
from myapi.cycle.tick import CycleService
from myapi.settlement.service import SettlementService


def handle_settlement_requested(container: Container, payload: dict[str, Any]) -> dict[str, Any]:
    """Idempotent: settlement skips symbols already settled from their latest revision."""
    day = date.fromisoformat(str(payload["trading_day"]))
    clock, settings = container.clock(), container.settings()
    result = JobRunner(container.sessionmaker(), clock).run(
        "settlement.run", lambda s: SettlementService(s, clock, settings).settle(day), day
    )
    return result.details


def handle_cycle_tick(container: Container, payload: dict[str, Any]) -> dict[str, Any]:
    """EventBridge Scheduler enqueues {"type": "cycle.tick"}; same as POST /internal/cycle/tick."""
    actions = CycleService(
        container.sessionmaker(), container.clock(), container.settings(), container.calendar()
    ).tick()
    return {"actions": actions}
