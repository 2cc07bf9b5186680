from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict


class JobOut(BaseModel):
    """What a job run did: its `job_runs` row (built from a JobResult)."""

    model_config = ConfigDict(from_attributes=True)

    run_id: int
    job: str
    trading_day: date | None
    status: str
    details: dict[str, Any]
