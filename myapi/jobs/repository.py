"""SQL for job runs. Never commits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
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
