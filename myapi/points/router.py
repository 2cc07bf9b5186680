"""/v1/points: my balance and my ledger."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from myapi.auth.guards import CurrentUserDep
from myapi.core.pagination import PageDep, page_of
from myapi.core.schemas import Envelope, ok
from myapi.deps import PointsLedgerDep
from myapi.points.schemas import BalanceOut, LedgerEntryOut
from myapi.ratelimit.deps import rate_limit

router = APIRouter(prefix="/v1/points", tags=["points"], dependencies=[Depends(rate_limit)])


@router.get("/balance", summary="My points balance, the points held by redemptions in flight, and the rest")
def balance(user: CurrentUserDep, ledger: PointsLedgerDep) -> Envelope[BalanceOut]:
    """My points: the balance, the points held by redemptions in flight, and those available to spend
    (balance minus held)."""
    points = ledger.available(user.id)
    return ok(
        BalanceOut(user_id=user.id, balance=points.balance, held=points.held, available=points.available)
    )


@router.get("/ledger", summary="My ledger entries, newest first (meta.total)")
def ledger(user: CurrentUserDep, ledger: PointsLedgerDep, page: PageDep) -> Envelope[list[LedgerEntryOut]]:
    """My points ledger, newest first: every credit and debit with its reason, reference and the
    balance after it; paginated with `limit` and `offset`, `meta.total` counts them all."""
    rows, total = ledger.ledger(user.id, page.limit, page.offset)
    return page_of(LedgerEntryOut, rows, total, page)
