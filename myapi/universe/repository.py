"""SQL for the active universe. Never commits: the caller's unit of work does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.universe.models import ActiveUniverse


@dataclass(frozen=True)
class Baseline:
    price: Decimal
    asof: date
    provider: str


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

    def get(self, trading_day: date, symbol: str) -> ActiveUniverse | None:
        return self.session.get(ActiveUniverse, (trading_day, symbol))

    def lock_day(self, trading_day: date) -> None:
        """Serialise universe changes of one day (transaction-scoped advisory lock)."""
        self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('universe'), :d)"),
            {"d": trading_day.toordinal()},
        )

    def delete_symbols(self, trading_day: date, symbols: Sequence[str]) -> int:
        if not symbols:
            return 0
        result = self.session.execute(
            delete(ActiveUniverse).where(
                ActiveUniverse.trading_day == trading_day, ActiveUniverse.symbol.in_(symbols)
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def upsert(self, rows: Sequence[dict[str, object]]) -> None:
        """Insert rows or update their seq; a baseline already set is never replaced."""
        if not rows:
            return
        stmt = insert(ActiveUniverse).values(list(rows))
        stmt = stmt.on_conflict_do_update(
            index_elements=["trading_day", "symbol"],
            set_={
                "seq": stmt.excluded.seq,
                "baseline_price": func.coalesce(ActiveUniverse.baseline_price, stmt.excluded.baseline_price),
                "baseline_at": func.coalesce(ActiveUniverse.baseline_at, stmt.excluded.baseline_at),
                "baseline_source": func.coalesce(
                    ActiveUniverse.baseline_source, stmt.excluded.baseline_source
                ),
            },
        )
        self.session.execute(stmt)

    def latest_closes_before(self, trading_day: date, symbols: Sequence[str]) -> dict[str, Baseline]:
        """The last official close of each symbol before `trading_day` (highest vendor
        revision of the latest date) — the baseline predictions are judged against."""
        if not symbols:
            return {}
        rows = self.session.execute(
            text(
                "SELECT DISTINCT ON (symbol) symbol, close_price, asof, provider "
                "FROM crypto.eod_prices WHERE symbol = ANY(:symbols) AND asof < :day "
                "ORDER BY symbol, asof DESC, vendor_rev DESC"
            ),
            {"symbols": list(symbols), "day": trading_day},
        )
        return {r.symbol: Baseline(r.close_price, r.asof, r.provider) for r in rows}

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
