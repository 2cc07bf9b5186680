"""/v1/predictions: a player's predictions. Every route reads or changes only the
caller's own predictions (the user id comes from the token, never from the request)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import AfterValidator

from myapi.auth.guards import CurrentUserDep
from myapi.core.enums import PredictionStatus
from myapi.core.idempotency import IdempotentDep
from myapi.core.pagination import PageDep, page_of
from myapi.core.schemas import Envelope, ErrorEnvelope, ok
from myapi.core.symbols import normalise_symbol
from myapi.deps import PredictionServiceDep
from myapi.predictions.schemas import (
    AcceptedOut,
    CancelledOut,
    ChoiceIn,
    MyDayOut,
    PredictionOut,
    StatsOut,
)
from myapi.ratelimit.deps import rate_limit

router = APIRouter(prefix="/v1/predictions", tags=["predictions"], dependencies=[Depends(rate_limit)])
# Upper-cased on the way in: `aapl` is `AAPL` (not pattern-checked: an unknown symbol is PRED_004).
SymbolPath = Annotated[
    str, Path(min_length=1, max_length=10, examples=["AAPL"]), AfterValidator(normalise_symbol)
]
GAME_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorEnvelope, "description": "PRED_004 not in universe, PRED_404 no prediction"},
    409: {
        "model": ErrorEnvelope,
        "description": "PRED_001 closed, PRED_003 no slot free (the cooldown gives one back at "
        "details.cooldown_until), PRED_006 no baseline yet, "
        "PRED_005 duplicate, IDEM_002 in flight",
    },
    422: {"model": ErrorEnvelope, "description": "validation, IDEM_003 key reused"},
}


@router.post(
    "/{symbol}",
    status_code=202,
    response_model=Envelope[AcceptedOut],
    responses=GAME_ERRORS,
    summary="Predict UP or DOWN for a symbol of today's universe (honours Idempotency-Key)",
)
def submit(
    symbol: SymbolPath,
    body: ChoiceIn,
    user: CurrentUserDep,
    service: PredictionServiceDep,
    idem: IdempotentDep,
) -> Envelope[AcceptedOut] | JSONResponse:
    return idem.run(
        user.id, 202, lambda: ok(AcceptedOut(**service.submit(user.id, symbol, body.choice).__dict__))
    )


@router.patch(
    "/{symbol}",
    response_model=Envelope[PredictionOut],
    responses=GAME_ERRORS,
    summary="Change my prediction while the session is open (no slot cost)",
)
def change(
    symbol: SymbolPath,
    body: ChoiceIn,
    user: CurrentUserDep,
    service: PredictionServiceDep,
    idem: IdempotentDep,
) -> Envelope[PredictionOut] | JSONResponse:
    return idem.run(
        user.id, 200, lambda: ok(PredictionOut.model_validate(service.change(user.id, symbol, body.choice)))
    )


@router.delete(
    "/{symbol}",
    response_model=Envelope[CancelledOut],
    responses=GAME_ERRORS,
    summary="Cancel my prediction while the session is open (slot refunded)",
)
def cancel(
    symbol: SymbolPath,
    user: CurrentUserDep,
    service: PredictionServiceDep,
    idem: IdempotentDep,
) -> Envelope[CancelledOut] | JSONResponse:
    def produce() -> Envelope[CancelledOut]:
        remaining = service.cancel(user.id, symbol)
        return ok(CancelledOut(symbol=symbol, cancelled=True, remaining_slots=remaining))

    return idem.run(user.id, 200, produce)


@router.get("/me", summary="My predictions for a trading day (default: today)")
def mine(
    user: CurrentUserDep,
    service: PredictionServiceDep,
    trading_day: Annotated[date | None, Query()] = None,
) -> Envelope[MyDayOut]:
    day, rows = service.mine(user.id, trading_day)
    return ok(MyDayOut(trading_day=day, predictions=[PredictionOut.model_validate(r) for r in rows]))


@router.get("/history", summary="My predictions, newest first (paginated)")
def history(
    user: CurrentUserDep,
    service: PredictionServiceDep,
    page: PageDep,
    status: Annotated[PredictionStatus | None, Query()] = None,
) -> Envelope[list[PredictionOut]]:
    rows, total = service.history(user.id, page.limit, page.offset, status)
    return page_of(PredictionOut, rows, total, page)


@router.get("/stats", summary="My totals, win rate and streaks")
def stats(user: CurrentUserDep, service: PredictionServiceDep) -> Envelope[StatsOut]:
    return ok(service.stats(user.id))
