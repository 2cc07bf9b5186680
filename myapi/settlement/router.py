"""/v1/settlements, /v1/results, /v1/crowd: the outcome of trading days per symbol, with
what the crowd predicted (public; the crowd only once a day no longer accepts
predictions).

`admin_router`: the operators' settlement tools under /admin (role ADMIN): settle or
re-settle a day, the symbol-days held for review (corporate actions) and their decision,
and the VOID of a symbol-day. Each write runs the settlement job (`job_runs`
`settlement.run`), the actor `user:{id}`."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AfterValidator

from myapi.auth.guards import AdminDep, require_admin
from myapi.core.pagination import PageDep
from myapi.core.schemas import Envelope, ErrorEnvelope, ok
from myapi.deps import CrowdServiceDep, JobsDep, SettlementQueriesDep
from myapi.jobs.schemas import JobOut
from myapi.ratelimit.deps import rate_limit
from myapi.settlement.schemas import (
    CrowdOut,
    DayCrowdOut,
    DaySettlementOut,
    ReviewStatus,
    SymbolCrowdOut,
    SymbolDayDecisionIn,
    SymbolDayReviewOut,
    SymbolDayVoidIn,
    checked_symbol,
    symbol_rows,
)

router = APIRouter(prefix="/v1/settlements", tags=["game"], dependencies=[Depends(rate_limit)])
results_router = APIRouter(prefix="/v1/results", tags=["game"], dependencies=[Depends(rate_limit)])
crowd_router = APIRouter(prefix="/v1/crowd", tags=["game"], dependencies=[Depends(rate_limit)])


@router.get("/{trading_day}", summary="Per-symbol outcomes and prices of a settled day")
def day_settlement(
    trading_day: date, queries: SettlementQueriesDep, crowd: CrowdServiceDep
) -> Envelope[DaySettlementOut]:
    """A settled day per symbol: the outcome (close against the previous close, for display), the close
    and previous close, the vendor revision, any VOID reason and what the crowd predicted. Public. A
    player's own result is in `GET /v1/predictions/me`."""
    row, symbols = queries.day(trading_day)
    counts = crowd.for_days(trading_day, trading_day).get(trading_day, {})
    return ok(
        DaySettlementOut(
            trading_day=trading_day, settled_at=row.settled_at, symbols=symbol_rows(symbols, counts)
        )
    )


@results_router.get(
    "", summary="Settled days' outcomes per symbol with the crowd's split, newest first (≤ 31 days)"
)
def results(
    queries: SettlementQueriesDep,
    crowd: CrowdServiceDep,
    date_from: Annotated[date, Query(alias="from")],
    date_to: Annotated[date, Query(alias="to")],
) -> Envelope[list[DaySettlementOut]]:
    """The settled days of a range (`from` to `to`, at most 31 days), newest first, each as
    `GET /v1/settlements/{trading_day}` shows it. Public."""
    settled = queries.settled_between(date_from, date_to)  # SYS_422 for a bad range
    counts = crowd.for_days(date_from, date_to)
    days = [
        DaySettlementOut(
            trading_day=row.trading_day,
            settled_at=row.settled_at,
            symbols=symbol_rows(symbols, counts.get(row.trading_day, {})),
        )
        for row, symbols in settled
    ]
    return ok(days, total=len(days))


@crowd_router.get(
    "/{trading_day}", summary="What the crowd predicted per symbol (hidden while predictions are open)"
)
def day_crowd(trading_day: date, crowd: CrowdServiceDep) -> Envelope[DayCrowdOut]:
    """What the players predicted per symbol on a day: UP and DOWN counts, participants, the UP share
    and, once settled, the share that was right. Hidden (`visible: false`) until the day's cutoff
    has run, so nobody follows the herd. Public."""
    visible = crowd.visible(trading_day)
    rows = crowd.for_days(trading_day, trading_day).get(trading_day, {}) if visible else {}
    symbols = []
    for symbol, row in sorted(rows.items()):
        out = CrowdOut.of(row)
        if out is not None:
            symbols.append(SymbolCrowdOut(symbol=symbol, **out.model_dump()))
    return ok(DayCrowdOut(trading_day=trading_day, visible=visible, symbols=symbols))


# --- /admin: the operators' settlement tools -------------------------------------------
admin_router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])
SymbolPath = Annotated[
    str, Path(min_length=1, max_length=10, examples=["AAPL"]), AfterValidator(checked_symbol)
]
SETTLE_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorEnvelope, "description": "SETTLE_404 no session; CORP_404 no such (held) symbol-day"},
    409: {
        "model": ErrorEnvelope,
        "description": "SETTLE_001 session open, CYCLE_001 not a trading day, CYCLE_002 before close "
        "+ delay, SETTLE_002 a take-back exceeds some balance (details.user_ids), CORP_001 decided "
        "otherwise",
    },
}


@admin_router.post(
    "/settlement/{trading_day}/run",
    responses=SETTLE_ERRORS,
    summary="Settle or re-settle a day now: the scheduler's settlement job (idempotent; audited)",
)
def settlement_run(trading_day: date, admin: AdminDep, jobs: JobsDep) -> Envelope[JobOut]:
    """Settles a day now, or settles it again after a price revision: the scheduler's settlement job,
    run for an operator (audited). Refused while the day still accepts predictions or before its
    close plus the settlement delay."""
    return ok(JobOut.model_validate(jobs.settle(trading_day, actor=f"user:{admin.id}")))


@admin_router.post(
    "/settlement/{trading_day}/{symbol}/void",
    responses=SETTLE_ERRORS,
    summary="VOID a symbol-day (halt, bad data, corporate action); points won are taken back (audited)",
)
def symbol_day_void(
    trading_day: date, symbol: SymbolPath, body: SymbolDayVoidIn, admin: AdminDep, jobs: JobsDep
) -> Envelope[JobOut]:
    """VOIDs one symbol of a settled day (a halt, bad data or a corporate action): its predictions
    become VOID and points they won are taken back, writing off a shortfall only when asked to
    (audited)."""
    result = jobs.void_symbol_day(
        trading_day, symbol, reason=body.reason, note=body.note, actor=f"user:{admin.id}",
        write_off_shortfall=body.write_off_shortfall,
    )  # fmt: skip
    return ok(JobOut.model_validate(result))


@admin_router.get(
    "/corporate-actions",
    summary="Symbol-days held for review (corporate actions) and decided or VOIDED ones, newest day first",
)
def corporate_actions(
    queries: SettlementQueriesDep,
    page: PageDep,
    status: ReviewStatus | None = None,
    trading_day: date | None = None,
) -> Envelope[list[SymbolDayReviewOut]]:
    """The symbol-days held for review because their close looks like a corporate action (a split, a
    dividend), and those already decided or VOIDed, newest day first; filtered by status or day,
    paginated."""
    rows, total = queries.reviews(status, trading_day, page.limit, page.offset)
    items = [
        SymbolDayReviewOut.model_validate(review).model_copy(update={"predictions": counts})
        for review, counts in rows
    ]
    return ok(items, total=total, limit=page.limit, offset=page.offset)


@admin_router.post(
    "/corporate-actions/{trading_day}/{symbol}/decide",
    responses=SETTLE_ERRORS,
    summary="Decide a held symbol-day: SETTLE on the stored close or VOID (idempotent; audited)",
)
def corporate_action_decide(
    trading_day: date, symbol: SymbolPath, body: SymbolDayDecisionIn, admin: AdminDep, jobs: JobsDep
) -> Envelope[JobOut]:
    """Decides a held symbol-day: SETTLE it on the stored close, or VOID it. Deciding it the same way
    again changes nothing; the other way is `CORP_001` (audited)."""
    result = jobs.decide_symbol_day(
        trading_day, symbol, decision=body.decision, note=body.reason, actor=f"user:{admin.id}",
        write_off_shortfall=body.write_off_shortfall,
    )  # fmt: skip
    return ok(JobOut.model_validate(result))
