"""SQL for the crowd counters. Never commits."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from myapi.crowd.models import SymbolCrowd


class CrowdRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def refresh(self, trading_day: date, now: datetime) -> int:
        """Recount the day's predictions per symbol (one statement; idempotent).
        Returns the symbols written."""
        result = self.session.execute(
            text(
                """
                INSERT INTO crypto.symbol_crowd (trading_day, symbol, up, down, correct, decided, updated_at)
                SELECT trading_day, symbol,
                       count(*) FILTER (WHERE choice = 'UP'), count(*) FILTER (WHERE choice = 'DOWN'),
                       count(*) FILTER (WHERE status = 'CORRECT'),
                       count(*) FILTER (WHERE status IN ('CORRECT', 'INCORRECT')), :now
                FROM crypto.predictions
                WHERE trading_day = :day AND status <> 'CANCELLED'
                GROUP BY trading_day, symbol
                ORDER BY symbol
                ON CONFLICT (trading_day, symbol) DO UPDATE
                    SET up = EXCLUDED.up, down = EXCLUDED.down, correct = EXCLUDED.correct,
                        decided = EXCLUDED.decided, updated_at = EXCLUDED.updated_at
                    WHERE (crypto.symbol_crowd.up, crypto.symbol_crowd.down, crypto.symbol_crowd.correct,
                           crypto.symbol_crowd.decided)
                          IS DISTINCT FROM (EXCLUDED.up, EXCLUDED.down, EXCLUDED.correct, EXCLUDED.decided)
                """
            ),
            {"day": trading_day, "now": now},
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def for_days(self, first: date, last: date) -> list[SymbolCrowd]:
        stmt = (
            select(SymbolCrowd)
            .where(SymbolCrowd.trading_day >= first, SymbolCrowd.trading_day <= last)
            .order_by(SymbolCrowd.trading_day, SymbolCrowd.symbol)
        )
        return list(self.session.scalars(stmt))
