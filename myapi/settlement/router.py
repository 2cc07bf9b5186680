"""/v1/settlements, /v1/results, /v1/crowd: the outcome of trading days per symbol, with
what the crowd predicted (public; the crowd only once a day no longer accepts
predictions)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from myapi.core.schemas import Envelope, ok
from myapi.deps import CrowdServiceDep, SettlementQueriesDep
from myapi.ratelimit.deps import rate_limit
from myapi.settlement.schemas import (
    CrowdOut,
    DayCrowdOut,
    DaySettlementOut,
    SymbolCrowdOut,
    symbol_rows,
)

router = APIRouter(prefix="/v1/settlements", tags=["game"], dependencies=[Depends(rate_limit)])
results_router = APIRouter(prefix="/v1/results", tags=["game"], dependencies=[Depends(rate_limit)])
crowd_router = APIRouter(prefix="/v1/crowd", tags=["game"], dependencies=[Depends(rate_limit)])


@router.get("/{trading_day}", summary="Per-symbol outcomes and prices of a settled day")
def day_settlement(
    trading_day: date, queries: SettlementQueriesDep, crowd: CrowdServiceDep
) -> Envelope[DaySettlementOut]:
    row, symbols = queries.day(trading_day)
    counts = crowd.for_days(trading_day, trading_day).get(trading_day, {})
    return ok(
        DaySettlementOut(
            trading_day=trading_day, settled_at=row.settled_at, symbols=symbol_rows(symbols, counts)
        )
    )


@results_router.get(
    "", summary="Settled days' outcomes per symbol with the crowd's split, newest first (≤ 31 days)"
)
def results(
    queries: SettlementQueriesDep,
    crowd: CrowdServiceDep,
    date_from: Annotated[date, Query(alias="from")],
    date_to: Annotated[date, Query(alias="to")],
) -> Envelope[list[DaySettlementOut]]:
    settled = queries.settled_between(date_from, date_to)  # SYS_422 for a bad range
    counts = crowd.for_days(date_from, date_to)
    days = [
        DaySettlementOut(
            trading_day=row.trading_day,
            settled_at=row.settled_at,
            symbols=symbol_rows(symbols, counts.get(row.trading_day, {})),
        )
        for row, symbols in settled
    ]
    return ok(days, total=len(days))


@crowd_router.get(
    "/{trading_day}", summary="What the crowd predicted per symbol (hidden while predictions are open)"
)
def day_crowd(trading_day: date, crowd: CrowdServiceDep) -> Envelope[DayCrowdOut]:
    visible = crowd.visible(trading_day)
    rows = crowd.for_days(trading_day, trading_day).get(trading_day, {}) if visible else {}
    symbols = []
    for symbol, row in sorted(rows.items()):
        out = CrowdOut.of(row)
        if out is not None:
            symbols.append(SymbolCrowdOut(symbol=symbol, **out.model_dump()))
    return ok(DayCrowdOut(trading_day=trading_day, visible=visible, symbols=symbols))
