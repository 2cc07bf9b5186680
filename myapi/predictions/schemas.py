from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from myapi.core.enums import Choice, PredictionStatus
from myapi.core.schemas import KstDateTime


class ChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    choice: Choice


class AcceptedOut(BaseModel):
    status: str = "accepted"
    prediction_id: int
    trading_day: date
    symbol: str
    choice: Choice
    submitted_at: KstDateTime
    remaining_slots: int


class PredictionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    trading_day: date
    symbol: str
    choice: Choice
    status: PredictionStatus
    baseline_price: Decimal | None
    submitted_at: KstDateTime
    updated_at: KstDateTime
    settled_at: KstDateTime | None
    points_awarded: int
    void_reason: str | None


class MyDayOut(BaseModel):
    trading_day: date
    predictions: list[PredictionOut]


class CancelledOut(BaseModel):
    symbol: str
    cancelled: bool
    remaining_slots: int


class SymbolStatsOut(BaseModel):
    symbol: str
    correct: int
    incorrect: int
    void: int
    win_rate: float | None


class BadgeOut(BaseModel):
    code: str
    title: str
    description: str


class StatsOut(BaseModel):
    total: int
    pending: int
    correct: int
    incorrect: int
    void: int
    win_rate: float | None
    current_streak: int
    best_streak: int
    points_won: int
    by_symbol: list[SymbolStatsOut] = Field(default_factory=list)
    badges: list[BadgeOut] = Field(default_factory=list)
