"""Crowd sentiment (issue 12, part): per symbol, how many players predicted UP and
DOWN, and once settled the share who were right. Hidden while the day accepts
predictions (no herding); counted at the cutoff and recounted by every settlement run,
from the predictions themselves, so the figures are exact."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy.orm import Session

from myapi.core.clock import Clock
from myapi.core.enums import Phase
from myapi.crowd.models import SymbolCrowd
from myapi.crowd.repository import CrowdRepository
from myapi.cycle.repository import SessionsRepository


class CrowdService:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._repo = CrowdRepository(session)
        self._sessions = SessionsRepository(session)
        self._clock = clock

    def refresh(self, trading_day: date) -> dict[str, object]:
        written = self._repo.refresh(trading_day, self._clock.now())
        return {"trading_day": trading_day.isoformat(), "symbols": written}

    def visible(self, trading_day: date) -> bool:
        """Shown once the day's cutoff has run (phase SETTLE: the cutoff job counted the
        crowd) — not merely once the clock passed the cutoff, when the counts may not be
        written yet. No session: nothing to hide."""
        row = self._sessions.get(trading_day)
        return row is None or row.phase != Phase.PREDICT

    def for_days(self, first: date, last: date) -> dict[date, dict[str, SymbolCrowd]]:
        """Day -> symbol -> its crowd, for days that are visible."""
        by_day: dict[date, dict[str, SymbolCrowd]] = defaultdict(dict)
        for row in self._repo.for_days(first, last):
            by_day[row.trading_day][row.symbol] = row
        return {day: rows for day, rows in by_day.items() if self.visible(day)}
