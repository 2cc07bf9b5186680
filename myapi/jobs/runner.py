"""Running a batch step with a `job_runs` record (job, trading day, outcome, details),
whoever triggers it (scheduler via /internal, a worker, the CLI, an operator).

The RUNNING row is committed first, so a crash leaves evidence; the work and its
SUCCEEDED mark commit together in one unit of work; a failure is recorded in a
transaction of its own (the work itself was rolled back).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from myapi.core.clock import Clock
from myapi.core.db import unit_of_work
from myapi.core.errors import AppError
from myapi.jobs.repository import JobRunsRepository

logger = logging.getLogger("myapi.jobs")


@dataclass(frozen=True)
class JobResult:
    run_id: int
    job: str
    trading_day: date | None
    status: str
    details: dict[str, Any]


class JobRunner:
    def __init__(self, factory: sessionmaker[Session], clock: Clock) -> None:
        self._factory = factory
        self._clock = clock

    def run(
        self,
        job: str,
        work: Callable[[Session], dict[str, Any]],
        trading_day: date | None = None,
    ) -> JobResult:
        """Run `work(session)` in one unit of work; it returns the details to record."""
        with unit_of_work(self._factory) as session:
            run_id = JobRunsRepository(session).start(str(job), trading_day, self._clock.now())
        try:
            with unit_of_work(self._factory) as session:
                details = work(session)
                JobRunsRepository(session).finish(
                    run_id, status="SUCCEEDED", now=self._clock.now(), details=details
                )
        except Exception as exc:
            if isinstance(exc, AppError) and exc.status_code < 500:
                # Refused by a rule (an expected answer, e.g. a step not due yet): no trace.
                logger.warning(
                    "job %s refused: %s %s", job, exc.code, exc.message,
                    extra={"job": str(job), "run_id": run_id, "details": exc.details},
                )  # fmt: skip
            else:
                logger.exception("job %s failed", job, extra={"job": str(job), "run_id": run_id})
            error = repr(exc)
            if isinstance(exc, AppError):
                error = f"{exc.code}: {exc.message} {exc.details or ''}"
            with unit_of_work(self._factory) as session:
                JobRunsRepository(session).finish(
                    run_id, status="FAILED", now=self._clock.now(), error=error.strip()[:2000]
                )
            raise
        return JobResult(run_id, str(job), trading_day, "SUCCEEDED", details)
