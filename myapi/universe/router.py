"""/v1/universe: the tickers of today's game."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from myapi.core.db import DbSession
from myapi.core.deps import ContainerDep
from myapi.core.ratelimit import rate_limit
from myapi.core.schemas import Envelope, ok
from myapi.universe.schemas import UniverseItemOut, UniverseTodayOut
from myapi.universe.service import UniverseService

router = APIRouter(prefix="/v1/universe", tags=["game"], dependencies=[Depends(rate_limit)])


@router.get("/today", summary="Today's tickers with their baseline prices")
def today(session: DbSession, container: ContainerDep) -> Envelope[UniverseTodayOut]:
    calendar = container.calendar()
    day = calendar.trading_day_for(container.clock().now())
    rows = UniverseService(session, container.clock(), container.settings(), calendar).list_for_day(day)
    items = [
        UniverseItemOut(
            symbol=r.symbol, seq=r.seq, baseline_price=r.baseline_price, baseline_at=r.baseline_at
        )
        for r in rows
    ]
    return ok(
        UniverseTodayOut(
            trading_day=day,
            items=items,
            baselines_available=bool(items) and all(i.baseline_price is not None for i in items),
        )
    )
