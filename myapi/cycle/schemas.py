from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from myapi.core.enums import Phase
from myapi.core.schemas import KstDateTime


class SessionOut(BaseModel):
    trading_day: date
    phase: Phase | None = Field(description="null: this day's session has not opened yet")
    predict_open_at: KstDateTime | None
    predict_cutoff_at: KstDateTime
    market_open_at: KstDateTime
    market_close_at: KstDateTime
    settled_at: KstDateTime | None
    can_predict: bool
    is_early_close: bool
    server_time: KstDateTime = Field(
        description="The server's clock when it answered: count down to the cutoff from this, "
        "not from the device's clock (which may be off, and is in a demo)"
    )
    clock_speed: float = Field(
        description="Simulated seconds per real second: 1 in production; more on a demo's "
        "accelerated clock (`make demo`), so a countdown ticks at this rate"
    )


class TradingDayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trading_day: date | None = Field(default=None, description="Default: from the clock")
