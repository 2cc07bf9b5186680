from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base
from myapi.core.enums import CHOICE, PREDICTION_STATUS, Choice, PredictionStatus


class Prediction(Base):
    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint("trading_day", "user_id", "symbol"),
        # A prediction is always about a symbol of that day's universe; removing a
        # symbol that has predictions is refused by the database too.
        ForeignKeyConstraint(
            ["trading_day", "symbol"],
            ["active_universe.trading_day", "active_universe.symbol"],
            ondelete="RESTRICT",
            name="fk_predictions_trading_day_symbol_active_universe",
        ),
        CheckConstraint("points_awarded >= 0", name="points_awarded_non_negative"),
        CheckConstraint("baseline_price IS NULL OR baseline_price > 0", name="baseline_positive"),
        CheckConstraint(
            "(status IN ('PENDING', 'CANCELLED')) = (settled_at IS NULL)",
            name="settled_at_matches_status",
        ),
        Index(None, "user_id", "trading_day"),
        # Not on status: settlement changes it, and an index on it would rule out HOT
        # updates (the table has fillfactor 50 for them; see migration 0003).
        Index(None, "trading_day", "symbol"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    trading_day: Mapped[date]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    symbol: Mapped[str] = mapped_column(String(10))
    choice: Mapped[Choice] = mapped_column(CHOICE)
    status: Mapped[PredictionStatus] = mapped_column(PREDICTION_STATUS, server_default=text("'PENDING'"))
    baseline_price: Mapped[Decimal | None]
    baseline_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    settled_at: Mapped[datetime | None]
    points_awarded: Mapped[int] = mapped_column(server_default=text("0"))
    void_reason: Mapped[str | None] = mapped_column(String(64))
