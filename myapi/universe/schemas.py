from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from myapi.core.schemas import KstDateTime

SYMBOL_PATTERN = r"^[A-Z][A-Z0-9.\-]{0,9}$"
_SYMBOL_RE = re.compile(SYMBOL_PATTERN)


def normalise_symbol(raw: str) -> str:
    """Symbols are upper-case; `aapl` is accepted as `AAPL`."""
    return raw.strip().upper()


def is_valid_symbol(symbol: str) -> bool:
    return bool(_SYMBOL_RE.match(symbol))


class UniverseSymbolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(min_length=1, max_length=10)
    seq: int | None = Field(default=None, ge=1, le=10_000)

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str) -> str:
        value = normalise_symbol(value)
        if not is_valid_symbol(value):
            raise ValueError(f"{value!r} is not a valid symbol ({SYMBOL_PATTERN})")
        return value


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
