from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base
from myapi.core.enums import PHASE, Phase


class SessionControl(Base):
    """The state of one trading day's game session (SPEC §2)."""

    __tablename__ = "session_control"
    __table_args__ = (CheckConstraint("predict_cutoff_at > predict_open_at", name="cutoff_after_open"),)

    trading_day: Mapped[date] = mapped_column(primary_key=True)
    phase: Mapped[Phase] = mapped_column(PHASE)
    predict_open_at: Mapped[datetime]
    predict_cutoff_at: Mapped[datetime]
    market_open_at: Mapped[datetime]
    market_close_at: Mapped[datetime]
    settle_ready_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
