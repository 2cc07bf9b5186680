from __future__ import annotations

from datetime import date

from pydantic import BaseModel


class LeaderRowOut(BaseModel):
    rank: int
    nickname: str
    points: int
    wins: int
    predictions: int


class MyStandingOut(BaseModel):
    period: str
    period_start: date
    ranked: bool
    rank: int | None
    points: int
    wins: int
    predictions: int
    percentile: float | None
    ranked_players: int
