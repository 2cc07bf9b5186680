"""Running a batch step with a `job_runs` record (job, trading day, outcome, details),
whoever triggers it (scheduler via /internal, a worker, the CLI, an operator).

The RUNNING row is committed first, so a crash leaves evidence; the work and its
SUCCEEDED mark commit together in one unit of work; a failure is recorded in a
transaction of its own (the work itself was rolled back).

A failure that is not a refusal (an AppError with a status below 500 is a rule's
expected answer) is then handed to the `on_failure` hook (the operators' JOB_FAILED
alert, supplied by `Jobs`); nothing the hook does changes the job's outcome.
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


@dataclass(frozen=True)
class JobFailure:
    """A job run that failed (not refused): what the failure hook is told."""

    run_id: int
    job: str
    trading_day: date | None
    error: str


class JobRunner:
    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Clock,
        on_failure: Callable[[JobFailure], None] | None = None,
    ) -> None:
        self._factory = factory
        self._clock = clock
        self._on_failure = on_failure

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
            refused = False
            if isinstance(exc, AppError) and exc.status_code < 500:
                refused = True
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
            error = error.strip()[:2000]
            with unit_of_work(self._factory) as session:
                JobRunsRepository(session).finish(run_id, status="FAILED", now=self._clock.now(), error=error)
            if not refused:
                self._failed(JobFailure(run_id, str(job), trading_day, error))
            raise
        return JobResult(run_id, str(job), trading_day, "SUCCEEDED", details)

    def _failed(self, failure: JobFailure) -> None:
        if self._on_failure is None:
            return
        try:
            self._on_failure(failure)
        except Exception:  # the job's own error is what the caller must see
            logger.exception("job %s: the failure hook failed", failure.job, extra={"run_id": failure.run_id})
