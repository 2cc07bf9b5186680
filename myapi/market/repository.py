"""SQL for EOD prices and fetch logs. Never commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.market.models import EodFetchLog, EodPrice
from myapi.providers.eod.base import EodQuote


class MarketRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def priced_symbols(self, asof: date) -> set[str]:
        return set(self.session.scalars(select(EodPrice.symbol).where(EodPrice.asof == asof).distinct()))

    def store_quotes(self, quotes: Iterable[EodQuote], provider: str, now: datetime) -> int:
        """Insert quotes; an existing (asof, symbol, vendor_rev) is kept (first writer wins,
        a correction comes with a higher vendor_rev). Returns rows inserted."""
        rows = [
            {
                "asof": q.asof,
                "symbol": q.symbol,
                "vendor_rev": q.vendor_rev,
                "close_price": q.close,
                "prev_close_price": q.prev_close,
                "provider": provider,
                "fetched_at": now,
                "corporate_action": q.corporate_action.as_json() if q.corporate_action else None,
            }
            for q in quotes
        ]
        if not rows:
            return 0
        stmt = (
            insert(EodPrice)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["asof", "symbol", "vendor_rev"])
            .returning(EodPrice.symbol)
        )
        return len(self.session.execute(stmt).all())

    def log_attempt(
        self,
        *,
        trading_day: date,
        provider: str,
        symbols: Sequence[str],
        missing: Sequence[str],
        status: str,
        error: str | None,
        duration_ms: int,
        now: datetime,
    ) -> None:
        self.session.add(
            EodFetchLog(
                trading_day=trading_day,
                provider=provider,
                symbols=list(symbols),
                missing_symbols=list(missing),
                status=status,
                error=error,
                duration_ms=duration_ms,
                created_at=now,
            )
        )
        self.session.flush()
