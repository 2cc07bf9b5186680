"""/v1/ads: slot status, ad unlocks (verified receipts), unlock history."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from myapi.auth.guards import CurrentUserDep
from myapi.core.idempotency import IdempotentDep
from myapi.core.pagination import PageDep, page_of
from myapi.core.schemas import Envelope, ErrorEnvelope, ok
from myapi.deps import SlotServiceDep
from myapi.ratelimit.deps import rate_limit
from myapi.slots.schemas import ReceiptIn, SlotStatusOut, UnlockHistoryOut, UnlockIn
from myapi.slots.service import AdReceipt

router = APIRouter(prefix="/v1/ads", tags=["slots"], dependencies=[Depends(rate_limit)])
dev_router = APIRouter(prefix="/v1/ads", tags=["slots"], dependencies=[Depends(rate_limit)])


@router.get("/status", summary="My slots today: base, used, ad unlocks, cooldown, available")
def status(user: CurrentUserDep, service: SlotServiceDep) -> Envelope[SlotStatusOut]:
    """My prediction slots today: the base slots, those used, ad unlocks used and allowed, cooldown
    recoveries, capacity, available, when the running cooldown gives the next one back, and whether
    an ad can unlock one now."""
    return ok(service.status(user.id))


@router.post(
    "/unlock",
    response_model=Envelope[SlotStatusOut],
    responses={
        400: {"model": ErrorEnvelope, "description": "AD_001 forged, AD_002 stale"},
        409: {
            "model": ErrorEnvelope,
            "description": "AD_005 session closed, AD_003 replayed, AD_004 daily ad limit",
        },
    },
    summary="Unlock one slot with the ad network's signed receipt",
)
def unlock(
    body: UnlockIn,
    user: CurrentUserDep,
    service: SlotServiceDep,
    idem: IdempotentDep,
) -> Envelope[SlotStatusOut] | JSONResponse:
    """Unlocks one more prediction slot with the signed receipt the ad network's server issued for a
    watched ad. The receipt must be mine, fresh and unused, and the session must accept predictions;
    a refused receipt records nothing. Answers my slot status."""

    def produce() -> Envelope[SlotStatusOut]:
        r = body.receipt
        receipt = AdReceipt(r.user_id, r.nonce, r.issued_at, r.signature)
        return ok(service.unlock_by_ad(user.id, receipt))

    return idem.run(user.id, 200, produce)


@router.get("/history", summary="My slot unlocks (ads and cooldown), newest first")
def history(user: CurrentUserDep, service: SlotServiceDep, page: PageDep) -> Envelope[list[UnlockHistoryOut]]:
    """My slot unlocks of every day, newest first: each with its day, its method (AD for a watched
    ad, COOLDOWN for a recovery) and the slots it added; paginated with `limit` and `offset`."""
    rows, total = service.history(user.id, page.limit, page.offset)
    return page_of(UnlockHistoryOut, rows, total, page)


@dev_router.post(
    "/dev-receipt",
    summary="Development only: a receipt signed as the ad network would (absent in production)",
)
def dev_receipt(user: CurrentUserDep, service: SlotServiceDep) -> Envelope[ReceiptIn]:
    """Development and test only: a receipt for me signed as the ad network would, to try
    `POST /v1/ads/unlock` without an ad. The route does not exist in production."""
    receipt = service.dev_receipt(user.id)
    return ok(ReceiptIn(**receipt.__dict__))
