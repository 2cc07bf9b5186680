"""/v1/session: what a player needs to know about today's game session."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from myapi.core.schemas import Envelope, ok
from myapi.cycle.schemas import SessionOut
from myapi.deps import SessionServiceDep
from myapi.ratelimit.deps import rate_limit

router = APIRouter(prefix="/v1/session", tags=["game"], dependencies=[Depends(rate_limit)])


@router.get(
    "/today",
    summary="Today's session (on a weekend or holiday: the next trading day's)",
)
def today(service: SessionServiceDep) -> Envelope[SessionOut]:
    """The game session a player acts in now: its trading day, phase, open, cutoff and market times in
    KST, whether predictions are accepted now, and the server's time and clock speed to count down
    from. On a weekend or holiday, the next trading day's session."""
    return ok(SessionOut(**service.view().__dict__))
