"""SQL for the active universe. Never commits: the caller's unit of work does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
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
                "previous_close": func.coalesce(ActiveUniverse.previous_close, stmt.excluded.previous_close),
            },
        )
        self.session.execute(stmt)

    def closes_on(self, asof: date, symbols: Sequence[str]) -> dict[str, Baseline]:
        """Each symbol's official close of the session `asof` (its highest vendor
        revision): the baseline of the next trading day when it opens."""
        if not symbols:
            return {}
        rows = self.session.execute(
            text(
                "SELECT DISTINCT ON (symbol) symbol, close_price, asof, provider "
                "FROM crypto.eod_prices WHERE symbol = ANY(:symbols) AND asof = :asof "
                "ORDER BY symbol, vendor_rev DESC"
            ),
            {"symbols": list(symbols), "asof": asof},
        )
        return {r.symbol: Baseline(r.close_price, r.asof, r.provider) for r in rows}

    def set_baselines(self, trading_day: date, prices: Sequence[tuple[str, Decimal, datetime, str]]) -> int:
        """Replace the baselines of (symbol, price, at, source), in one statement; a
        baseline from an earlier instant never replaces a later one. Returns rows changed."""
        if not prices:
            return 0
        result = self.session.execute(
            text(
                """
                UPDATE crypto.active_universe u SET
                    baseline_price = v.price, baseline_at = v.at, baseline_source = v.source
                FROM unnest(CAST(:symbols AS text[]), CAST(:prices AS numeric[]),
                            CAST(:ats AS timestamptz[]), CAST(:sources AS text[]))
                     AS v(symbol, price, at, source)
                WHERE u.trading_day = :day AND u.symbol = v.symbol
                  AND (u.baseline_at IS NULL OR u.baseline_at <= v.at)
                """
            ),
            {
                "day": trading_day,
                "symbols": [p[0] for p in prices],
                "prices": [p[1] for p in prices],
                "ats": [p[2] for p in prices],
                "sources": [p[3] for p in prices],
            },
        )
        return int(getattr(result, "rowcount", 0) or 0)
