"""/v1/universe: the tickers of today's game."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from myapi.core.schemas import Envelope, ok
from myapi.deps import UniverseServiceDep
from myapi.ratelimit.deps import rate_limit
from myapi.universe.schemas import UniverseTodayOut

router = APIRouter(prefix="/v1/universe", tags=["game"], dependencies=[Depends(rate_limit)])


@router.get("/today", summary="Today's tickers with their baseline prices")
def today(service: UniverseServiceDep) -> Envelope[UniverseTodayOut]:
    """The symbols of today's game with the baseline each prediction made now is judged against (the
    previous close when the day opens, then the latest price while predictions are open), the
    previous close and the change since it."""
    return ok(service.today())
