"""SQL for job runs. Never commits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from myapi.cycle.models import JobRun


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
