from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict


class IntegrityCheckOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str
    passed: bool
    offending: list[dict[str, Any]]


class IntegrityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    passed: bool
    checks: list[IntegrityCheckOut]


class JobRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    job: str
    trading_day: date | None
    status: str
    details: dict[str, Any]
    error: str | None
