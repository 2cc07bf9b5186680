from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base


class PlayerDay(Base):
    """A player's settled results of one trading day (cancelled and pending predictions
    aside): what the leaderboard sums. Rewritten by each settlement run of the day."""

    __tablename__ = "player_days"
    __table_args__ = (Index(None, "trading_day"),)  # the players of a day

    # No foreign key (dropped in 0012): the rows derive from crypto.predictions, whose
    # user_id references users (RESTRICT; accounts are anonymised, never deleted), and a
    # per-row check cost ~20% of a refresh of 200k players.
    user_id: Mapped[int] = mapped_column(primary_key=True)
    trading_day: Mapped[date] = mapped_column(primary_key=True)
    points: Mapped[int]
    wins: Mapped[int] = mapped_column(Integer)
    predictions: Mapped[int] = mapped_column(Integer)


class LeaderboardEntry(Base):
    """A player's totals over one period: `week` (Monday of the trading day's week),
    `month` (its first day) or `all` (period_start 1970-01-01). Read in rank order
    (points, then wins, descending; then the user id) through the rank index, which
    holds the active rows only. `active` is the player's users.is_active, kept by the
    refresh (new rows) and by a trigger on crypto.users (migration 0012). The index
    includes `predictions`, so a page is read from it alone (then the nicknames)."""

    __tablename__ = "leaderboard"
    __table_args__ = (
        Index(
            "ix_leaderboard_rank",
            "period", "period_start", text("points DESC"), text("wins DESC"), "user_id",
            postgresql_where=text("active"), postgresql_include=["predictions"],
        ),
    )  # fmt: skip

    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[date] = mapped_column(primary_key=True)
    # No foreign key (dropped in 0012): the rows derive from crypto.predictions, whose
    # user_id references users (RESTRICT; accounts are anonymised, never deleted), and a
    # per-row check cost ~20% of a refresh of 200k players.
    user_id: Mapped[int] = mapped_column(primary_key=True)
    points: Mapped[int]
    wins: Mapped[int] = mapped_column(Integer)
    predictions: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class LeaderboardScore(Base):
    """How many active players of a period have one score (points, wins): the sum over
    the better scores is the number of players ahead of a score."""

    __tablename__ = "leaderboard_scores"
    __table_args__ = (CheckConstraint("players >= 0", name="players_non_negative"),)

    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[date] = mapped_column(primary_key=True)
    points: Mapped[int] = mapped_column(primary_key=True)
    wins: Mapped[int] = mapped_column(Integer, primary_key=True)
    players: Mapped[int] = mapped_column(Integer)


class LeaderboardScoreBlock(Base):
    """The same count per block of user ids (`user_id / BLOCK_SIZE`): within a score,
    the players ahead are those of the lower blocks plus the lower ids of one block."""

    __tablename__ = "leaderboard_score_blocks"
    __table_args__ = (CheckConstraint("players >= 0", name="players_non_negative"),)

    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[date] = mapped_column(primary_key=True)
    points: Mapped[int] = mapped_column(primary_key=True)
    wins: Mapped[int] = mapped_column(Integer, primary_key=True)
    block: Mapped[int] = mapped_column(Integer, primary_key=True)
    players: Mapped[int] = mapped_column(Integer)
