from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, Numeric, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
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


class SymbolDayReview(Base):
    """A symbol-day taken out of the automatic settlement.

    * HELD: the settlement's EOD validation flagged it (`trigger`: the close moved more
      than CORPORATE_ACTION_MAX_MOVE from a reference price — MOVE — or the provider
      reported a SPLIT, or a DIVIDEND of at least CORPORATE_ACTION_DIVIDEND_MIN of the
      previous close). Its predictions are not settled (or, for a revision of a settled
      symbol, not re-settled) until an operator decides.
    * SETTLED: the operator let the stored close stand; it settles as any symbol-day.
    * VOIDED: every prediction of the symbol-day is VOID with `void_reason` (HALT,
      BAD_DATA, CORPORATE_ACTION), whatever the close; points already won are taken back.
    """

    __tablename__ = "symbol_day_reviews"
    __table_args__ = (
        CheckConstraint("status IN ('HELD', 'SETTLED', 'VOIDED')", name="status_known"),
        CheckConstraint("trigger IS NULL OR trigger IN ('MOVE', 'SPLIT', 'DIVIDEND')", name="trigger_known"),
        CheckConstraint(
            "void_reason IS NULL OR void_reason IN ('HALT', 'BAD_DATA', 'CORPORATE_ACTION')",
            name="void_reason_known",
        ),
        CheckConstraint("(status = 'VOIDED') = (void_reason IS NOT NULL)", name="voided_has_reason"),
        CheckConstraint("(status = 'HELD') = (decided_at IS NULL)", name="decided_unless_held"),
        CheckConstraint("status <> 'HELD' OR trigger IS NOT NULL", name="held_has_trigger"),
        Index(None, "status", "trading_day"),
    )

    trading_day: Mapped[date] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(10), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    # Why it was held (None: an operator's VOID of a symbol-day that was never held).
    trigger: Mapped[str | None] = mapped_column(String(16))
    close_price: Mapped[Decimal | None]
    reference_price: Mapped[Decimal | None]
    move: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))  # close / reference - 1
    vendor_rev: Mapped[int | None] = mapped_column(Integer)
    provider_action: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    held_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
