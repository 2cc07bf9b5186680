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
    """Predicts whether a symbol of today's universe closes above (UP) or below (DOWN) its baseline of
    this moment. Costs one slot; answers 202 with the prediction and the slots left. With no slot
    free, `PRED_003` says when the cooldown gives one back (`details.cooldown_until`). Settled after
    the close: a correct prediction wins points."""
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
    """Changes my prediction of a symbol to the other side while the session accepts predictions. Costs
    no slot; the prediction takes the symbol's current baseline (the price of the moment of the
    change)."""
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
    """Cancels my prediction of a symbol while the session accepts predictions: its slot is refunded
    and the symbol can be predicted again."""

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
    """My predictions of one trading day (default: today's): choice, baseline, status and, once
    settled, the points won or the VOID reason."""
    day, rows = service.mine(user.id, trading_day)
    return ok(MyDayOut(trading_day=day, predictions=[PredictionOut.model_validate(r) for r in rows]))


@router.get("/history", summary="My predictions, newest first (paginated)")
def history(
    user: CurrentUserDep,
    service: PredictionServiceDep,
    page: PageDep,
    status: Annotated[PredictionStatus | None, Query()] = None,
) -> Envelope[list[PredictionOut]]:
    """All my predictions, newest first, optionally of one status; paginated with `limit` and `offset`,
    `meta.total` counts them all."""
    rows, total = service.history(user.id, page.limit, page.offset, status)
    return page_of(PredictionOut, rows, total, page)


@router.get("/stats", summary="My totals, win rate and streaks")
def stats(user: CurrentUserDep, service: PredictionServiceDep) -> Envelope[StatsOut]:
    """My record: totals by outcome, win rate, current and best streak of correct predictions (VOID
    skipped), points won, the same per symbol, and the badges earned."""
    return ok(service.stats(user.id))
