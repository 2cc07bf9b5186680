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
    """A player's slots for one trading day (docs/api.md "Slots, ads and cooldown")."""

    trading_day: date
    base: int = Field(description="Base slots of the day (BASE_PREDICTION_SLOTS)")
    used: int = Field(description="Slots taken by the day's live predictions (a cancel gives one back)")
    ad_unlocks_used: int = Field(description="Slots unlocked by verified ads today")
    ad_unlocks_max: int = Field(description="The daily ad limit (MAX_AD_SLOTS); only ads count against it")
    cooldown_unlocks: int = Field(description="Slots the cooldown gave back today (no daily cap)")
    capacity: int = Field(description="base + ad_unlocks_used + cooldown_unlocks")
    available: int = Field(description="capacity - used")
    cooldown_until: KstDateTime | None = Field(
        description="When the cooldown gives the next slot back; set iff available < base"
    )
    can_unlock: bool = Field(
        description="An ad may unlock a slot now: ad_unlocks_used < ad_unlocks_max and the session "
        "accepts predictions now"
    )


class UnlockHistoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    trading_day: date
    method: str
    unlocked_slots: int
    created_at: KstDateTime
