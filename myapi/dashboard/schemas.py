"""The operators' dashboard (`GET /admin/dashboard`): what the admin web UI reads.

Rates are floats in 0..1, or null when undefined (nothing decided yet); counts and
points are integers; every timestamp is ISO-8601 in KST.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from myapi.core.schemas import KstDateTime


class TotalsOut(BaseModel):
    dau: float | None = Field(description="mean daily active players over the range's trading days")
    predictions: int = Field(description="predictions of the range's trading days, cancelled ones aside")
    participants: float | None = Field(description="mean daily players with a prediction")
    win_rate: float | None = Field(description="correct / (correct + incorrect)")
    void_rate: float | None = Field(description="VOID / (correct + incorrect + VOID)")
    points_issued: int
    points_spent: int


class DlqOut(BaseModel):
    name: str
    visible: int | None
    in_flight: int | None
    delayed: int | None


class QueueOut(BaseModel):
    key: str
    name: str
    visible: int | None
    in_flight: int | None
    delayed: int | None
    dlq: DlqOut
    error: str | None = Field(description="why a depth is missing (SQS unreachable); null when read")


class OutboxOut(BaseModel):
    lag_seconds: float = Field(description="age of the oldest unpublished event (0 when none)")
    pending: int = Field(description="events not yet published")


class JobRunOut(BaseModel):
    job: str
    status: str | None = Field(description="RUNNING, SUCCEEDED, FAILED or SKIPPED; null: never ran")
    started_at: KstDateTime | None
    finished_at: KstDateTime | None
    error: str | None
    id: int | None
    trading_day: date | None


class SymbolOut(BaseModel):
    symbol: str
    participants: float = Field(description="mean players per trading day the symbol was predicted")
    predictions: int
    win_rate: float | None


class SeriesPointOut(BaseModel):
    day: date
    dau: int
    predictions: int
    participants: int
    win_rate: float | None
    void_rate: float | None
    points_issued: int
    points_spent: int
    live: bool = Field(description="counted from the day's rows (today, or not summarised yet), not read")
    as_of: KstDateTime = Field(description="when the figures were counted (live) or summarised")


class DashboardOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    totals: TotalsOut
    redemptions: dict[str, int]
    queues: list[QueueOut]
    outbox: OutboxOut
    jobs: list[JobRunOut]
    symbols: list[SymbolOut]
    series: list[SeriesPointOut]
