from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base, created_at_column


class ActiveUniverse(Base):
    """The tickers of one trading day, with the baseline each prediction is judged against."""

    __tablename__ = "active_universe"
    __table_args__ = (
        CheckConstraint("seq >= 1", name="seq_positive"),
        CheckConstraint("symbol ~ '^[A-Z][A-Z0-9.\\-]{0,9}$'", name="symbol_format"),
        CheckConstraint("baseline_price IS NULL OR baseline_price > 0", name="baseline_positive"),
        CheckConstraint("(baseline_price IS NULL) = (baseline_at IS NULL)", name="baseline_with_asof"),
        CheckConstraint("previous_close IS NULL OR previous_close > 0", name="previous_close_positive"),
    )

    trading_day: Mapped[date] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(10), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    baseline_price: Mapped[Decimal | None]
    baseline_at: Mapped[datetime | None]
    baseline_source: Mapped[str | None] = mapped_column(String(32))
    # The last official close before the day (the baseline when the day opened).
    previous_close: Mapped[Decimal | None]
    created_at: Mapped[datetime] = created_at_column()
