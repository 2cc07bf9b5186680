from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict


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
