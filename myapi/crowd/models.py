from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base


class SymbolCrowd(Base):
    """What the players predicted for one symbol of one day (cancelled predictions
    aside), and once settled how many were right. Written at the cutoff and again by
    each settlement run (from the predictions, so always exact); shown only once the day
    no longer accepts predictions."""

    __tablename__ = "symbol_crowd"

    trading_day: Mapped[date] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(10), primary_key=True)
    up: Mapped[int] = mapped_column(Integer)
    down: Mapped[int] = mapped_column(Integer)
    correct: Mapped[int] = mapped_column(Integer)
    decided: Mapped[int] = mapped_column(Integer)  # CORRECT + INCORRECT (VOID and pending aside)
    updated_at: Mapped[datetime]

    @property
    def participants(self) -> int:
        return self.up + self.down
