"""SQL for job runs. Never commits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.core.enums import Phase
from myapi.cycle.models import JobRun, SessionControl


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


class SessionsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, trading_day: date) -> SessionControl | None:
        return self.session.get(SessionControl, trading_day)

    def lock(self, trading_day: date) -> SessionControl | None:
        stmt = select(SessionControl).where(SessionControl.trading_day == trading_day).with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def insert_if_absent(self, row: dict[str, Any]) -> bool:
        stmt = (
            insert(SessionControl)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["trading_day"])
            .returning(SessionControl.trading_day)
        )
        return self.session.execute(stmt).first() is not None

    def flip_to_settle(self, trading_day: date, now: datetime) -> bool:
        """PREDICT -> SETTLE; False when it already was SETTLE (idempotent)."""
        stmt = (
            update(SessionControl)
            .where(SessionControl.trading_day == trading_day, SessionControl.phase == Phase.PREDICT)
            .values(phase=Phase.SETTLE, updated_at=now)
            .returning(SessionControl.trading_day)
        )
        return self.session.execute(stmt).first() is not None


class CycleRepository:
    """What the reconcile loop needs to see, in a few small queries."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def open_past_cutoff(self, now: datetime) -> list[date]:
        stmt = select(SessionControl.trading_day).where(
            SessionControl.phase == Phase.PREDICT, SessionControl.predict_cutoff_at <= now
        )
        return list(self.session.scalars(stmt.order_by(SessionControl.trading_day)))

    def unsettled_closed(self, closed_before: datetime) -> list[SessionControl]:
        stmt = (
            select(SessionControl)
            .where(SessionControl.settled_at.is_(None), SessionControl.market_close_at <= closed_before)
            .order_by(SessionControl.trading_day)
        )
        return list(self.session.scalars(stmt))

    def last_request(self, job: str, trading_day: date) -> datetime | None:
        stmt = select(func.max(JobRun.started_at)).where(JobRun.job == job, JobRun.trading_day == trading_day)
        result: datetime | None = self.session.scalar(stmt)
        return result
