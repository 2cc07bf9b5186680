"""/v1/points: my balance and my ledger."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from myapi.core.db import DbSession
from myapi.core.deps import ContainerDep
from myapi.core.pagination import PageDep
from myapi.core.ratelimit import rate_limit
from myapi.core.schemas import Envelope, ok
from myapi.core.security import CurrentUserDep
from myapi.points.schemas import BalanceOut, LedgerEntryOut
from myapi.points.service import PointsLedger

router = APIRouter(prefix="/v1/points", tags=["points"], dependencies=[Depends(rate_limit)])


@router.get("/balance", summary="My points balance")
def balance(user: CurrentUserDep, session: DbSession, container: ContainerDep) -> Envelope[BalanceOut]:
    return ok(BalanceOut(user_id=user.id, balance=PointsLedger(session, container.clock()).balance(user.id)))


@router.get("/ledger", summary="My ledger entries, newest first (meta.total)")
def ledger(
    user: CurrentUserDep, session: DbSession, container: ContainerDep, page: PageDep
) -> Envelope[list[LedgerEntryOut]]:
    rows, total = PointsLedger(session, container.clock()).ledger(user.id, page.limit, page.offset)
    return ok(
        [LedgerEntryOut.model_validate(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )
