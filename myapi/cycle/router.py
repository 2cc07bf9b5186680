"""/v1/session: what a player needs to know about today's game session."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from myapi.core.db import DbSession
from myapi.core.deps import ContainerDep
from myapi.core.ratelimit import rate_limit
from myapi.core.schemas import Envelope, ok
from myapi.cycle.schemas import SessionOut
from myapi.cycle.service import SessionService

router = APIRouter(prefix="/v1/session", tags=["game"], dependencies=[Depends(rate_limit)])


@router.get(
    "/today",
    summary="Today's session (on a weekend or holiday: the next trading day's)",
)
def today(session: DbSession, container: ContainerDep) -> Envelope[SessionOut]:
    view = SessionService(session, container.clock(), container.settings(), container.calendar()).view()
    return ok(SessionOut(**view.__dict__))
