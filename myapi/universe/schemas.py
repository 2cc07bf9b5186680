from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from myapi.core.schemas import KstDateTime
from myapi.core.symbols import SymbolField


class UniverseSymbolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: SymbolField
    seq: int | None = Field(default=None, ge=1, le=10_000)


class UniverseUpsertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trading_day: date | None = Field(default=None, description="Default: the current trading day")
    symbols: list[str | UniverseSymbolIn] | None = Field(
        default=None, description="Default: the built-in list of popular US tickers"
    )


class UniverseUpsertOut(BaseModel):
    trading_day: date
    added: int
    updated: int
    removed: int
    total: int
    baselines_missing: list[str]


class UniverseItemOut(BaseModel):
    symbol: str
    seq: int
    baseline_price: Decimal | None
    baseline_at: KstDateTime | None


class UniverseTodayOut(BaseModel):
    trading_day: date
    items: list[UniverseItemOut]
    baselines_available: bool = Field(
        description="False while some symbol has no baseline yet (no EOD close known)"
    )
