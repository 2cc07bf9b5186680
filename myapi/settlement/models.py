from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base
from myapi.core.enums import OUTCOME, Outcome


class Settlement(Base):
    """Per-symbol outcome of a trading day: close vs previous close, and the vendor revision
    the outcome was computed from."""

    __tablename__ = "settlements"
    __table_args__ = (
        CheckConstraint("close_price IS NULL OR close_price > 0", name="close_positive"),
        CheckConstraint("prev_close_price IS NULL OR prev_close_price > 0", name="prev_close_positive"),
        CheckConstraint("vendor_rev >= 0", name="vendor_rev_non_negative"),
        CheckConstraint("(outcome = 'VOID') = (void_reason IS NOT NULL)", name="void_has_reason"),
    )

    trading_day: Mapped[date] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(10), primary_key=True)
    outcome: Mapped[Outcome] = mapped_column(OUTCOME)
    close_price: Mapped[Decimal | None]
    prev_close_price: Mapped[Decimal | None]
    vendor_rev: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    void_reason: Mapped[str | None] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(server_default=func.now())
