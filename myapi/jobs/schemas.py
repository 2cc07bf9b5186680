from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from myapi.core.schemas import KstDateTime
from myapi.jobs.runner import JobResult
from myapi.jobs.service import BackfillProgress, DayAction, DayState


class _JobRunFields(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    job: str
    trading_day: date | None
    status: str
    details: dict[str, Any]


class JobOut(_JobRunFields):
    """What a job run did: its `job_runs` row (built from a JobResult)."""

    run_id: int


class JobRunOut(_JobRunFields):
    """A `job_runs` row as operators list them."""

    id: int
    error: str | None
    started_at: KstDateTime
    finished_at: KstDateTime | None


# --- EOD backfills (POST/GET /admin/eod/backfill) -------------------------------------
class BackfillIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    first: date = Field(alias="from", description="first day of the range (YYYY-MM-DD)")
    last: date = Field(alias="to", description="last day of the range, inclusive (YYYY-MM-DD)")

    @field_validator("first", "last", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        # A calendar date as text only: a number would be read as a Unix timestamp.
        if not isinstance(value, str):
            raise ValueError("a date as YYYY-MM-DD")
        return value


class BackfillDayPlanOut(BaseModel):
    trading_day: date
    action: DayAction = Field(
        description="QUEUED: an eod.fetch was queued; COMPLETE: every symbol already had a close; "
        "NO_UNIVERSE: the day has no universe (nothing to fetch)"
    )
    symbols: int
    missing: int


class BackfillOut(BaseModel):
    backfill_id: int = Field(description="the backfill's eod.backfill job run (GET /admin/eod/backfill/{id})")
    first: date = Field(serialization_alias="from")
    last: date = Field(serialization_alias="to")
    queued: int
    skipped: int
    days: list[BackfillDayPlanOut]

    @classmethod
    def of(cls, result: JobResult) -> BackfillOut:
        d = result.details
        return cls(
            backfill_id=result.run_id, first=d["from"], last=d["to"], queued=d["queued"],
            skipped=d["skipped"], days=[BackfillDayPlanOut.model_validate(p) for p in d["days"]],
        )  # fmt: skip


class BackfillDayOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    trading_day: date
    state: DayState = Field(
        description="QUEUED (no run yet), RUNNING, DONE (every symbol priced), INCOMPLETE (fetched, "
        "some symbols still without a close), FAILED (the run failed; see error), COMPLETE / "
        "NO_UNIVERSE (nothing was queued)"
    )
    symbols: int
    missing: int
    run_id: int | None = Field(description="the day's latest eod.fetch run since the backfill")
    error: str | None
    missing_symbols: list[str]


class BackfillProgressOut(BaseModel):
    backfill_id: int
    status: str = Field(description="the request's own job run: SUCCEEDED, or FAILED with its error")
    first: date | None = Field(serialization_alias="from")
    last: date | None = Field(serialization_alias="to")
    actor: str | None
    requested_at: KstDateTime
    error: str | None
    finished: bool = Field(description="no day is queued or running any more")
    counts: dict[str, int] = Field(description="days per state")
    days: list[BackfillDayOut]

    @classmethod
    def of(cls, progress: BackfillProgress) -> BackfillProgressOut:
        return cls(
            backfill_id=progress.backfill_id, status=progress.status, first=progress.first,
            last=progress.last, actor=progress.actor, requested_at=progress.requested_at,
            error=progress.error, finished=progress.finished, counts=progress.counts,
            days=[BackfillDayOut.model_validate(d) for d in progress.days],
        )  # fmt: skip
