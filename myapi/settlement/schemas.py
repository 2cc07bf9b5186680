from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from myapi.core.enums import Outcome
from myapi.core.schemas import KstDateTime
from myapi.crowd.models import SymbolCrowd
from myapi.settlement.models import Settlement


class CrowdOut(BaseModel):
    """What the players predicted for a symbol (cancelled predictions aside)."""

    up: int
    down: int
    participants: int
    up_share: float | None = Field(description="UP / participants")
    right_share: float | None = Field(description="share of decided predictions (VOID aside) that were right")

    @classmethod
    def of(cls, crowd: SymbolCrowd | None) -> CrowdOut | None:
        if crowd is None:
            return None
        total = crowd.participants
        return cls(
            up=crowd.up, down=crowd.down, participants=total,
            up_share=round(crowd.up / total, 4) if total else None,
            right_share=round(crowd.correct / crowd.decided, 4) if crowd.decided else None,
        )  # fmt: skip


class SymbolSettlementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    symbol: str
    outcome: Outcome
    close_price: Decimal | None
    prev_close_price: Decimal | None
    vendor_rev: int
    void_reason: str | None
    computed_at: KstDateTime
    crowd: CrowdOut | None = None


def symbol_rows(settlements: list[Settlement], crowd: dict[str, SymbolCrowd]) -> list[SymbolSettlementOut]:
    """A day's per-symbol results, each with its crowd (None when not shown)."""
    return [
        SymbolSettlementOut.model_validate(s).model_copy(update={"crowd": CrowdOut.of(crowd.get(s.symbol))})
        for s in settlements
    ]


class DaySettlementOut(BaseModel):
    trading_day: date
    settled_at: KstDateTime | None
    symbols: list[SymbolSettlementOut]


class SymbolCrowdOut(CrowdOut):
    symbol: str


class DayCrowdOut(BaseModel):
    trading_day: date
    visible: bool = Field(description="false while the day accepts predictions: the split is hidden")
    symbols: list[SymbolCrowdOut]


class SettlementSummaryOut(BaseModel):
    trading_day: date
    settled_at: KstDateTime | None
    counts: dict[str, int]
    points_issued: int
    void_reasons: dict[str, int]
    symbols_by_outcome: dict[str, int]
