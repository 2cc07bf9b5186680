"""/v1/ads: slot status, ad unlocks (verified receipts), unlock history."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from myapi.container import Container
from myapi.core.db import DbSession
from myapi.core.deps import ContainerDep
from myapi.core.idempotency import IdempotencyDep, run_idempotent
from myapi.core.pagination import PageDep
from myapi.core.ratelimit import rate_limit
from myapi.core.schemas import Envelope, ErrorEnvelope, ok
from myapi.core.security import CurrentUserDep
from myapi.slots.schemas import ReceiptIn, SlotStatusOut, UnlockHistoryOut, UnlockIn
from myapi.slots.service import AdReceipt, SlotService, SlotStatus

router = APIRouter(prefix="/v1/ads", tags=["slots"], dependencies=[Depends(rate_limit)])
dev_router = APIRouter(prefix="/v1/ads", tags=["slots"], dependencies=[Depends(rate_limit)])


def _service(session: DbSession, container: Container) -> SlotService:
    return SlotService(session, container.clock(), container.settings())


def _out(status: SlotStatus) -> SlotStatusOut:
    return SlotStatusOut(**status.__dict__)


@router.get("/status", summary="My slots today: base, used, ad unlocks, cooldown, available")
def status(user: CurrentUserDep, session: DbSession, container: ContainerDep) -> Envelope[SlotStatusOut]:
    day = container.calendar().trading_day_for(container.clock().now())
    return ok(_out(_service(session, container).status(user.id, day)))


@router.post(
    "/unlock",
    response_model=Envelope[SlotStatusOut],
    responses={
        400: {"model": ErrorEnvelope, "description": "AD_001 forged, AD_002 stale"},
        409: {"model": ErrorEnvelope, "description": "AD_003 replayed, AD_004 daily cap"},
    },
    summary="Unlock one slot with the ad network's signed receipt",
)
def unlock(
    body: UnlockIn,
    user: CurrentUserDep,
    session: DbSession,
    container: ContainerDep,
    idem: IdempotencyDep,
) -> Envelope[SlotStatusOut] | JSONResponse:
    def produce() -> Envelope[SlotStatusOut]:
        day = container.calendar().trading_day_for(container.clock().now())
        r = body.receipt
        receipt = AdReceipt(r.user_id, r.nonce, r.issued_at, r.signature)
        return ok(_out(_service(session, container).unlock_by_ad(user.id, day, receipt)))

    return run_idempotent(
        session, container.clock(), container.settings().idempotency_ttl_s, user.id, idem, 200, produce
    )


@router.get("/history", summary="My slot unlocks (ads and cooldown), newest first")
def history(
    user: CurrentUserDep, session: DbSession, container: ContainerDep, page: PageDep
) -> Envelope[list[UnlockHistoryOut]]:
    rows, total = _service(session, container).history(user.id, page.limit, page.offset)
    return ok(
        [UnlockHistoryOut.model_validate(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@dev_router.post(
    "/dev-receipt",
    summary="Development only: a receipt signed as the ad network would (absent in production)",
)
def dev_receipt(user: CurrentUserDep, session: DbSession, container: ContainerDep) -> Envelope[ReceiptIn]:
    receipt = _service(session, container).dev_receipt(user.id)
    return ok(ReceiptIn(**receipt.__dict__))
