from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, Identity, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base, created_at_column


class EodPrice(Base):
    """An official end-of-day close as a provider reported it. A correction arrives as a
    new row with a higher vendor_rev; earlier revisions are kept. `corporate_action` is
    the split or dividend the provider reported for the day ({"kind", "value"}), if any:
    settlement holds such a symbol-day for review."""

    __tablename__ = "eod_prices"
    __table_args__ = (
        CheckConstraint("close_price > 0", name="close_positive"),
        CheckConstraint("prev_close_price IS NULL OR prev_close_price > 0", name="prev_close_positive"),
        CheckConstraint("vendor_rev >= 0", name="vendor_rev_non_negative"),
        Index(None, "symbol", "asof"),
    )

    asof: Mapped[date] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(10), primary_key=True)
    vendor_rev: Mapped[int] = mapped_column(Integer, primary_key=True)
    close_price: Mapped[Decimal]
    prev_close_price: Mapped[Decimal | None]
    provider: Mapped[str] = mapped_column(String(32))
    fetched_at: Mapped[datetime] = mapped_column(server_default=func.now())
    corporate_action: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class EodFetchLog(Base):
    """One provider attempt to fetch EOD prices, successful or not."""

    __tablename__ = "eod_fetch_logs"
    __table_args__ = (
        CheckConstraint("status IN ('SUCCESS', 'PARTIAL', 'FAILED')", name="status_known"),
        CheckConstraint("duration_ms >= 0", name="duration_non_negative"),
        Index(None, "trading_day", "created_at"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    trading_day: Mapped[date]
    provider: Mapped[str] = mapped_column(String(32))
    symbols: Mapped[list[str]] = mapped_column(ARRAY(String(10)), server_default=text("'{}'"))
    missing_symbols: Mapped[list[str]] = mapped_column(ARRAY(String(10)), server_default=text("'{}'"))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = created_at_column()
