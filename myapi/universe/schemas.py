from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, computed_field

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
    model_config = ConfigDict(from_attributes=True)

    symbol: str
    seq: int
    baseline_price: Decimal | None = Field(description="What a prediction made now is judged against")
    baseline_at: KstDateTime | None = Field(description="The instant of the baseline price")
    baseline_source: str | None = Field(description="Where the baseline is from (a provider)")
    previous_close: Decimal | None = Field(description="The last official close before the day")

    @computed_field(description="baseline_price - previous_close")  # type: ignore[prop-decorator]
    @property
    def change(self) -> Decimal | None:
        if self.baseline_price is None or self.previous_close is None:
            return None
        return self.baseline_price - self.previous_close

    @computed_field(description="change / previous_close x 100, 2 places")  # type: ignore[prop-decorator]
    @property
    def change_pct(self) -> Decimal | None:
        change = self.change
        if change is None or self.previous_close is None:
            return None
        return (change * 100 / self.previous_close).quantize(Decimal("0.01"))


class UniverseTodayOut(BaseModel):
    trading_day: date
    items: list[UniverseItemOut]
    baselines_available: bool = Field(
        description="False while some symbol has no baseline yet (no EOD close known)"
    )
