"""The operators' dashboard summaries (migration 0014), and the indexes its reads need
on tables other domains own (declared here, beside their one reader, so the models and
the migrations agree).

A *game day* D is the span of instants whose "today" is D (`trading_day_for`): from
the previous session's close up to D's close. `dashboard_days` holds a settled day's
figures, written by the settlement follow-up job once D's game day is over; a day
without a row (today, a day not yet followed up) is counted live by the same SQL.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base
from myapi.jobs.models import JobRun
from myapi.points.models import PointsLedgerEntry


class DashboardDay(Base):
    """One settled trading day's figures (see myapi/dashboard/service.py for each
    definition). Rewritten whole by every follow-up of the day's settlement runs."""

    __tablename__ = "dashboard_days"
    __table_args__ = (
        CheckConstraint(
            "predictions >= 0 AND participants >= 0 AND dau >= participants AND correct >= 0 "
            "AND incorrect >= 0 AND void >= 0 AND correct + incorrect + void <= predictions "
            "AND points_issued >= 0 AND points_spent >= 0",
            name="counts_consistent",
        ),
        CheckConstraint("window_end > window_start", name="window_ordered"),
    )

    trading_day: Mapped[date] = mapped_column(primary_key=True)
    window_start: Mapped[datetime]  # the previous session's close
    window_end: Mapped[datetime]  # this session's close
    predictions: Mapped[int] = mapped_column(Integer)  # not cancelled
    participants: Mapped[int] = mapped_column(Integer)  # players with a prediction not cancelled
    dau: Mapped[int] = mapped_column(Integer)  # players active in the game day
    correct: Mapped[int] = mapped_column(Integer)
    incorrect: Mapped[int] = mapped_column(Integer)
    void: Mapped[int] = mapped_column(Integer)
    points_issued: Mapped[int]
    points_spent: Mapped[int]
    refreshed_at: Mapped[datetime]


class DashboardSymbolDay(Base):
    """One symbol of one settled day: its predictions (not cancelled) and outcomes."""

    __tablename__ = "dashboard_symbol_days"
    __table_args__ = (
        CheckConstraint(
            "correct >= 0 AND incorrect >= 0 AND void >= 0 AND correct + incorrect + void <= predictions",
            name="counts_consistent",
        ),
    )

    trading_day: Mapped[date] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(10), primary_key=True)
    predictions: Mapped[int] = mapped_column(Integer)
    correct: Mapped[int] = mapped_column(Integer)
    incorrect: Mapped[int] = mapped_column(Integer)
    void: Mapped[int] = mapped_column(Integer)


# --- indexes on other domains' tables, for the dashboard's reads -------------------------
# The settlement's ledger entries of one trading day (the follow-up sums them per day).
Index(
    "ix_points_ledger_trading_day",
    PointsLedgerEntry.trading_day,
    postgresql_where=text("trading_day IS NOT NULL"),
)
# Every other ledger entry (signup bonus, redemption, adjustment) by when it was written:
# a game day's are read from the index alone. Settlement rows are not in it, so the
# settlement's bulk inserts do not maintain it.
Index(
    "ix_points_ledger_created_at_untied",
    PointsLedgerEntry.created_at,
    postgresql_include=["user_id", "delta_points"],
    postgresql_where=text("trading_day IS NULL"),
)
# The last run of each job: one index descent per job name (and the distinct names by a
# skip scan), however many runs the table holds.
Index("ix_job_runs_job_id", JobRun.job, JobRun.id)
