from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from myapi.core.schemas import KstDateTime

SYMBOL_PATTERN = r"^[A-Z][A-Z0-9.\-]{0,9}$"
_SYMBOL_RE = re.compile(SYMBOL_PATTERN)


def normalise_symbol(raw: str) -> str:
    """Symbols are upper-case; `aapl` is accepted as `AAPL`."""
    return raw.strip().upper()


def is_valid_symbol(symbol: str) -> bool:
    return bool(_SYMBOL_RE.match(symbol))


def _checked_symbol(value: str) -> str:
    value = normalise_symbol(value)
    if not is_valid_symbol(value):
        raise ValueError(f"{value!r} is not a valid symbol ({SYMBOL_PATTERN})")
    return value


# A request field holding a symbol: upper-cased, then checked against SYMBOL_PATTERN.
SymbolField = Annotated[str, Field(min_length=1, max_length=10), AfterValidator(_checked_symbol)]


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
