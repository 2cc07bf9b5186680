"""SQL for job runs. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, DATE, distinct_on
from sqlalchemy.orm import Session

from myapi.jobs.models import JobRun


class JobRunsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def start(self, job: str, trading_day: date | None, now: datetime) -> int:
        run = JobRun(job=job, trading_day=trading_day, status="RUNNING", started_at=now, details={})
        self.session.add(run)
        self.session.flush()
        return run.id

    def finish(
        self,
        run_id: int,
        *,
        status: str,
        now: datetime,
        details: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status, "finished_at": now, "error": error}
        if details is not None:
            values["details"] = details
        self.session.execute(update(JobRun).where(JobRun.id == run_id).values(**values))

    def recent(self, limit: int = 50, job: str | None = None) -> list[JobRun]:
        stmt = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
        if job:
            stmt = stmt.where(JobRun.job == job)
        return list(self.session.scalars(stmt))

    def last_start(self, job: str, trading_day: date) -> datetime | None:
        """When `job` last started for `trading_day` (None: never)."""
        stmt = select(func.max(JobRun.started_at)).where(JobRun.job == job, JobRun.trading_day == trading_day)
        result: datetime | None = self.session.scalar(stmt)
        return result

    def last_start_of(self, job: str) -> datetime | None:
        """When `job` last started, whatever its trading day (None: never)."""
        stmt = select(func.max(JobRun.started_at)).where(JobRun.job == job)
        result: datetime | None = self.session.scalar(stmt)
        return result

    def get(self, run_id: int) -> JobRun | None:
        return self.session.get(JobRun, run_id)

    def latest_by_day_after(self, job: str, days: Sequence[date], after_id: int) -> dict[date, JobRun]:
        """The latest run of `job` for each of `days` started after run `after_id` (ids
        grow with time): e.g. the eod.fetch runs an eod.backfill queued. Served by the
        (job, trading_day) index."""
        stmt = (
            select(JobRun)
            .where(JobRun.job == job, JobRun.trading_day.in_(list(days)), JobRun.id > after_id)
            .order_by(JobRun.trading_day, JobRun.id.desc())
            .ext(distinct_on(JobRun.trading_day))
        )
        return {run.trading_day: run for run in self.session.scalars(stmt) if run.trading_day is not None}


# Per day of `days`: the universe's symbols, and those without any close for the day (an
# index probe of eod_prices' primary key per symbol).
_EOD_COVERAGE = text(
    """
    SELECT u.trading_day, count(*) AS symbols,
           count(*) FILTER (WHERE NOT EXISTS (
               SELECT 1 FROM crypto.eod_prices p WHERE p.asof = u.trading_day AND p.symbol = u.symbol
           )) AS missing
      FROM crypto.active_universe u
     WHERE u.trading_day = ANY(:days)
     GROUP BY u.trading_day
    """
).bindparams(bindparam("days", type_=ARRAY(DATE)))


class EodCoverageRepository:
    """How far the closes of a set of days are fetched (for EOD backfills)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def coverage(self, days: Sequence[date]) -> dict[date, tuple[int, int]]:
        """Day -> (universe symbols, symbols without a close); a day without a universe
        is absent."""
        rows = self.session.execute(_EOD_COVERAGE, {"days": list(days)})
        return {row.trading_day: (int(row.symbols), int(row.missing)) for row in rows}
