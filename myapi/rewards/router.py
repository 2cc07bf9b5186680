"""/v1/rewards: the catalog (public) and a player's own redemptions. Every redemption
route reads or changes only the caller's redemptions (another player's id is
REWARD_404, as if it did not exist)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from myapi.auth.guards import CurrentUserDep
from myapi.core.idempotency import IdempotentDep
from myapi.core.pagination import PageDep
from myapi.core.schemas import Envelope, ErrorEnvelope, ok
from myapi.deps import RewardServiceDep
from myapi.ratelimit.deps import rate_limit
from myapi.rewards.schemas import CatalogItemOut, RedeemAcceptedOut, RedeemIn, RedemptionOut

router = APIRouter(prefix="/v1/rewards", tags=["rewards"], dependencies=[Depends(rate_limit)])
RedemptionId = Annotated[int, Path(ge=1, le=2**63 - 1)]
REDEEM_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorEnvelope, "description": "REWARD_003 unknown or inactive SKU"},
    409: {
        "model": ErrorEnvelope,
        "description": "POINT_001 not enough points, REWARD_001 out of stock, REWARD_002 monthly cap, "
        "IDEM_002 in flight",
    },
    422: {"model": ErrorEnvelope, "description": "validation, IDEM_003 key reused"},
}
MINE_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorEnvelope, "description": "REWARD_404 no such redemption of mine"},
}
CANCEL_ERRORS: dict[int | str, dict[str, object]] = {
    **MINE_ERRORS,
    409: {
        "model": ErrorEnvelope,
        "description": "REWARD_004 not cancellable (the vendor was asked, or final)",
    },
}


@router.get("/catalog", summary="Active rewards with their cost and available stock (public)")
def catalog(service: RewardServiceDep) -> Envelope[list[CatalogItemOut]]:
    """The active rewards, cheapest first: SKU, title, cost in points and the stock still available.
    Public: no token needed."""
    return ok([CatalogItemOut.of(item) for item in service.catalog()])


@router.post(
    "/redeem",
    status_code=202,
    response_model=Envelope[RedeemAcceptedOut],
    responses=REDEEM_ERRORS,
    summary="Redeem points for a reward: accepted, then issued by the saga (honours Idempotency-Key)",
)
def redeem(
    body: RedeemIn, user: CurrentUserDep, service: RewardServiceDep, idem: IdempotentDep
) -> Envelope[RedeemAcceptedOut] | JSONResponse:
    """Redeems my points for a reward: answers 202 with the redemption in status REQUESTED; the saga
    then holds the points, reserves the stock and asks the vendor for the code (follow it with
    `GET /v1/rewards/redemptions/{redemption_id}`). Refused for too few points, no stock, the
    monthly cap or an unknown SKU."""

    def produce() -> Envelope[RedeemAcceptedOut]:
        view = service.redeem(user.id, body.sku)
        return ok(RedeemAcceptedOut(redemption_id=view.redemption.id, status=view.redemption.status))

    return idem.run(user.id, 202, produce)


@router.get("/redemptions", summary="My redemptions, newest first (paginated; meta.total)")
def redemptions(
    user: CurrentUserDep, service: RewardServiceDep, page: PageDep
) -> Envelope[list[RedemptionOut]]:
    """My redemptions, newest first, with status, cost, the code once ISSUED and why one failed;
    paginated with `limit` and `offset`, `meta.total` counts them all."""
    views, total = service.mine(user.id, page.limit, page.offset)
    return ok([RedemptionOut.of(v) for v in views], total=total, limit=page.limit, offset=page.offset)


@router.get("/redemptions/{redemption_id}", responses=MINE_ERRORS, summary="One of my redemptions")
def redemption(
    redemption_id: RedemptionId, user: CurrentUserDep, service: RewardServiceDep
) -> Envelope[RedemptionOut]:
    """One of my redemptions with its live status (and its code once ISSUED); another player's is
    `REWARD_404`, as if it did not exist."""
    return ok(RedemptionOut.of(service.get_mine(user.id, redemption_id)))


@router.post(
    "/redemptions/{redemption_id}/cancel",
    response_model=Envelope[RedemptionOut],
    responses=CANCEL_ERRORS,
    summary="Cancel my redemption before the vendor is asked for the code (points and stock back)",
)
def cancel(
    redemption_id: RedemptionId, user: CurrentUserDep, service: RewardServiceDep, idem: IdempotentDep
) -> Envelope[RedemptionOut] | JSONResponse:
    """Cancels my redemption before the vendor is asked for the code: CANCELLED, with the points and
    the stock back at once. Once the vendor was asked (or the redemption is final) it is
    `REWARD_004`."""
    return idem.run(user.id, 200, lambda: ok(RedemptionOut.of(service.cancel(user.id, redemption_id))))
