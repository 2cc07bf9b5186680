"""/v1/leaderboard: players ranked by the points their predictions won (nicknames only)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from myapi.auth.guards import CurrentUserDep
from myapi.core.pagination import PageDep
from myapi.core.schemas import Envelope, ok
from myapi.deps import LeaderboardServiceDep
from myapi.leaderboard.schemas import LeaderRowOut, MyStandingOut
from myapi.leaderboard.service import Period
from myapi.ratelimit.deps import rate_limit

router = APIRouter(prefix="/v1/leaderboard", tags=["leaderboard"], dependencies=[Depends(rate_limit)])
PeriodQuery = Annotated[Period, Query(description="week (KST, from Monday), month (KST), or all")]
AtQuery = Annotated[date | None, Query(description="a day inside the period (default: today, KST)")]


@router.get("", summary="The leaderboard of a period, best first (paginated; meta.total, meta.period_start)")
def leaderboard(
    user: CurrentUserDep,
    service: LeaderboardServiceDep,
    page: PageDep,
    period: PeriodQuery = "week",
    at: AtQuery = None,
) -> Envelope[list[LeaderRowOut]]:
    """The players of a period (week, month or all time; `at` picks which) ranked by the points their
    predictions won, then wins, best first, by nickname. Paginated with `limit` and `offset`;
    `meta.total` and `meta.period_start`."""
    start, rows, total = service.top(period, at, page.limit, page.offset)
    items = [
        LeaderRowOut(
            rank=r.rank, nickname=r.nickname, points=r.points, wins=r.wins, predictions=r.predictions
        )
        for r in rows
    ]
    return ok(
        items,
        total=total,
        limit=page.limit,
        offset=page.offset,
        period=period,
        period_start=start.isoformat(),
    )


@router.get("/me", summary="My rank, points, wins and percentile in a period")
def mine(
    user: CurrentUserDep, service: LeaderboardServiceDep, period: PeriodQuery = "week", at: AtQuery = None
) -> Envelope[MyStandingOut]:
    """My standing in a period: whether I am ranked, my rank, points, wins and predictions, my
    percentile (the share of ranked players at or below me) and how many players are ranked."""
    standing = service.mine(period, at, user.id)
    entry = standing.entry
    return ok(
        MyStandingOut(
            period=period, period_start=standing.period_start, ranked=entry is not None,
            rank=entry.rank if entry else None, points=entry.points if entry else 0,
            wins=entry.wins if entry else 0, predictions=entry.predictions if entry else 0,
            percentile=standing.percentile, ranked_players=standing.ranked_players,
        )
    )  # fmt: skip
