from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from myapi.core.symbols import SymbolField


class VendorPriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: SymbolField
    close: Decimal = Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False)
    prev_close: Decimal | None = Field(
        default=None, gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False
    )


class VendorEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asof: date
    vendor_rev: int = Field(ge=0, le=2_147_483_647)
    prices: list[VendorPriceIn] = Field(min_length=1, max_length=5000)

    @field_validator("prices")
    @classmethod
    def _unique(cls, prices: list[VendorPriceIn]) -> list[VendorPriceIn]:
        symbols = [p.symbol for p in prices]
        if len(set(symbols)) != len(symbols):
            raise ValueError("each symbol may appear once per event")
        return prices
