from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from myapi.core.schemas import KstDateTime


class ReceiptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: int
    nonce: str = Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")
    issued_at: int = Field(description="Unix seconds when the ad network signed it")
    signature: str = Field(min_length=64, max_length=64, pattern=r"^[0-9a-fA-F]+$")


class UnlockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["AD"]
    receipt: ReceiptIn


class SlotStatusOut(BaseModel):
    trading_day: date
    base: int
    used: int
    ad_unlocks_used: int
    ad_unlocks_max: int
    cooldown_unlocks: int
    capacity: int
    available: int
    cooldown_until: KstDateTime | None
    can_unlock: bool


class UnlockHistoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    trading_day: date
    method: str
    unlocked_slots: int
    created_at: KstDateTime
