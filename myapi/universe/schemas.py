from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from myapi.core.schemas import KstDateTime
from myapi.core.symbols import SymbolField
from myapi.universe.models import ActiveUniverse


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
    baseline_price: Decimal | None = Field(description="What a prediction made now is judged against")
    baseline_at: KstDateTime | None = Field(description="The instant of the baseline price")
    baseline_source: str | None = Field(description="Where the baseline is from (a provider)")
    previous_close: Decimal | None = Field(description="The last official close before the day")
    change: Decimal | None = Field(description="baseline_price - previous_close")
    change_pct: Decimal | None = Field(description="change / previous_close x 100, 2 places")


def universe_item_out(row: ActiveUniverse) -> UniverseItemOut:
    change = change_pct = None
    if row.baseline_price is not None and row.previous_close is not None:
        change = row.baseline_price - row.previous_close
        change_pct = (change * 100 / row.previous_close).quantize(Decimal("0.01"))
    return UniverseItemOut(
        symbol=row.symbol,
        seq=row.seq,
        baseline_price=row.baseline_price,
        baseline_at=row.baseline_at,
        baseline_source=row.baseline_source,
        previous_close=row.previous_close,
        change=change,
        change_pct=change_pct,
    )


class UniverseTodayOut(BaseModel):
    trading_day: date
    items: list[UniverseItemOut]
    baselines_available: bool = Field(
        description="False while some symbol has no baseline yet (no EOD close known)"
    )
