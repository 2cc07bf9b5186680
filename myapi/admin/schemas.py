from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


class EarlyCutoffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500, description="Why predictions close early (audited)")
