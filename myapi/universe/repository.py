"""SQL for the active universe. Never commits: the caller's unit of work does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.universe.models import ActiveUniverse


class UniverseRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def count_for_day(self, trading_day: date) -> int:
        stmt = select(func.count()).where(ActiveUniverse.trading_day == trading_day)
        return int(self.session.scalar(stmt) or 0)

    def list_for_day(self, trading_day: date) -> list[ActiveUniverse]:
        stmt = (
            select(ActiveUniverse)
            .where(ActiveUniverse.trading_day == trading_day)
            .order_by(ActiveUniverse.seq)
        )
        return list(self.session.scalars(stmt))

    def insert_missing(self, trading_day: date, symbols: Sequence[str]) -> int:
        """Insert (day, symbol, seq) rows that are not there yet; returns how many were new."""
        if not symbols:
            return 0
        stmt = (
            insert(ActiveUniverse)
            .values(
                [
                    {"trading_day": trading_day, "symbol": symbol, "seq": seq}
                    for seq, symbol in enumerate(symbols, start=1)
                ]
            )
            .on_conflict_do_nothing(index_elements=["trading_day", "symbol"])
            .returning(ActiveUniverse.symbol)
        )
        return len(self.session.execute(stmt).all())
