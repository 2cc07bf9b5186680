"""/v1/settlements: the outcome of a trading day, per symbol (public)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends

from myapi.core.schemas import Envelope, ok
from myapi.deps import SettlementQueriesDep
from myapi.ratelimit.deps import rate_limit
from myapi.settlement.schemas import DaySettlementOut, SymbolSettlementOut

router = APIRouter(prefix="/v1/settlements", tags=["game"], dependencies=[Depends(rate_limit)])


@router.get("/{trading_day}", summary="Per-symbol outcomes and prices of a settled day")
def day_settlement(trading_day: date, queries: SettlementQueriesDep) -> Envelope[DaySettlementOut]:
    row, symbols = queries.day(trading_day)
    return ok(
        DaySettlementOut(
            trading_day=trading_day,
            settled_at=row.settled_at,
            symbols=[SymbolSettlementOut.model_validate(s) for s in symbols],
        )
    )
