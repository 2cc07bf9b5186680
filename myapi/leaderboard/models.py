from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base


class PlayerDay(Base):
    """A player's settled results of one trading day (cancelled and pending predictions
    aside): what the leaderboard sums. Rewritten by each settlement run of the day."""

    __tablename__ = "player_days"
    __table_args__ = (Index(None, "trading_day"),)  # the players of a day

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True)
    trading_day: Mapped[date] = mapped_column(primary_key=True)
    points: Mapped[int]
    wins: Mapped[int] = mapped_column(Integer)
    predictions: Mapped[int] = mapped_column(Integer)


class LeaderboardEntry(Base):
    """A player's totals over one period: `week` (Monday of the trading day's week),
    `month` (its first day) or `all` (period_start 1970-01-01). Read in rank order
    (points, then wins, descending; then the user id) through the rank index."""

    __tablename__ = "leaderboard"
    __table_args__ = (
        Index(
            "ix_leaderboard_rank",
            "period", "period_start", text("points DESC"), text("wins DESC"), "user_id",
        ),
    )  # fmt: skip

    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[date] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True)
    points: Mapped[int]
    wins: Mapped[int] = mapped_column(Integer)
    predictions: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
