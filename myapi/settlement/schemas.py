from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from myapi.core.enums import Outcome
from myapi.core.schemas import KstDateTime
from myapi.core.symbols import SYMBOL_PATTERN, is_valid_symbol, normalise_symbol
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


# --- the operators' tools: settle a day, review and VOID symbol-days -------------------
def checked_symbol(value: str) -> str:
    """A path's symbol, upper-cased and checked against SYMBOL_PATTERN (422 otherwise)."""
    value = normalise_symbol(value)
    if not is_valid_symbol(value):
        raise ValueError(f"{value!r} is not a valid symbol ({SYMBOL_PATTERN})")
    return value


# An operator's free text (audited): printable, 3-500 characters once trimmed.
OperatorNote = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$"),
]
ReviewStatus = Literal["HELD", "SETTLED", "VOIDED"]


class SymbolDayDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["SETTLE", "VOID"] = Field(
        description="SETTLE: settle on the stored close; VOID: every prediction VOID (CORPORATE_ACTION)"
    )
    reason: OperatorNote = Field(description="Why (audited)")
    write_off_shortfall: StrictBool = Field(
        default=False,
        description="When taking points back, write off what a player no longer has (a WRITE_OFF ledger "
        "credit) instead of refusing with SETTLE_002",
    )


class SymbolDayVoidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Literal["HALT", "BAD_DATA", "CORPORATE_ACTION"] = Field(
        description="The predictions' void_reason"
    )
    note: OperatorNote = Field(description="What happened (audited)")
    write_off_shortfall: StrictBool = Field(
        default=False,
        description="When taking points back, write off what a player no longer has (a WRITE_OFF ledger "
        "credit) instead of refusing with SETTLE_002",
    )


class SymbolDayReviewOut(BaseModel):
    """A symbol-day out of the automatic settlement, with its predictions by status."""

    model_config = ConfigDict(from_attributes=True)

    trading_day: date
    symbol: str
    status: ReviewStatus
    trigger: Literal["MOVE", "SPLIT", "DIVIDEND"] | None = Field(
        description="Why it was held (null: an operator's VOID of a symbol-day never held)"
    )
    close_price: Decimal | None = Field(description="The close that was held")
    reference_price: Decimal | None = Field(description="The reference furthest from the close")
    move: Decimal | None = Field(description="close / reference - 1")
    vendor_rev: int | None
    provider_action: dict[str, Any] | None = Field(
        description='What the provider reported: {"kind", "value"}'
    )
    held_at: KstDateTime | None
    void_reason: str | None
    note: str | None
    decided_by: str | None
    decided_at: KstDateTime | None
    predictions: dict[str, int] = Field(
        default_factory=dict, description="The symbol-day's predictions by status"
    )
