from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from myapi.core.enums import Outcome
from myapi.core.schemas import KstDateTime


class SymbolSettlementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    symbol: str
    outcome: Outcome
    close_price: Decimal | None
    prev_close_price: Decimal | None
    vendor_rev: int
    void_reason: str | None
    computed_at: KstDateTime


class DaySettlementOut(BaseModel):
    trading_day: date
    settled_at: KstDateTime | None
    symbols: list[SymbolSettlementOut]


class SettlementSummaryOut(BaseModel):
    trading_day: date
    settled_at: KstDateTime | None
    counts: dict[str, int]
    points_issued: int
    void_reasons: dict[str, int]
    symbols_by_outcome: dict[str, int]
