from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from myapi.core.schemas import KstDateTime


class BalanceOut(BaseModel):
    user_id: int
    balance: int
    held: int = Field(description="Points held by redemptions in flight (not spendable)")
    available: int = Field(description="balance - held")


class LedgerEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    delta_points: int
    balance_after: int
    reason: str
    ref_type: str
    ref_id: str
    trading_day: date | None
    symbol: str | None
    created_at: KstDateTime


class AdjustIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delta: int = Field(
        ge=-1_000_000_000,
        le=1_000_000_000,
        strict=True,  # a JSON integer only: true, 1.0 and "1" are 422, not +1
        description="Points to add (negative to take away); never zero; a JSON integer",
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]

    @field_validator("delta")
    @classmethod
    def _non_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("delta must not be zero")
        return value


class AdjustOut(BaseModel):
    audit_id: int
    entry_id: int
    delta: int
    balance_after: int
