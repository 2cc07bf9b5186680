"""/internal: called by the scheduler (EventBridge) and vendors. Every route requires the
internal token (router-level guard) and is a thin adapter over one job of
myapi.jobs.definitions.Jobs: each run writes a `job_runs` row and answers with it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Depends
from pydantic import ValidationError

from myapi.auth.guards import require_internal, require_vendor_signature
from myapi.core.errors import ValidationFailedError
from myapi.core.schemas import Envelope, ok
from myapi.cycle.schemas import TradingDayIn
from myapi.deps import JobsDep
from myapi.internal.schemas import VendorEventIn
from myapi.jobs.definitions import Jobs
from myapi.jobs.runner import JobResult
from myapi.jobs.schemas import JobOut
from myapi.providers.eod.base import EodQuote
from myapi.universe.schemas import UniverseUpsertIn

router = APIRouter(prefix="/internal", tags=["internal"], dependencies=[Depends(require_internal)])
# Vendor webhooks authenticate with an HMAC signature instead of the internal token.
vendor_router = APIRouter(prefix="/internal", tags=["internal"])
DayBody = Annotated[TradingDayIn, Body(default_factory=TradingDayIn)]


def _job_route(
    path: str, name: str, summary: str, description: str, run: Callable[[Jobs, date | None], JobResult]
) -> None:
    """POST /internal{path}: run one job (with the body's optional trading day)."""

    def endpoint(jobs: JobsDep, body: DayBody) -> Envelope[JobOut]:
        return ok(JobOut.model_validate(run(jobs, body.trading_day)))

    endpoint.__name__ = endpoint.__qualname__ = name
    router.add_api_route(
        path, endpoint, methods=["POST"], name=name, summary=summary, description=description,
        response_model=Envelope[JobOut],
    )  # fmt: skip


# path, name, summary, description, the job. A job without a day ignores the body's trading_day.
for _path, _name, _summary, _description, _run in (
    (
        "/session/flip-to-predict", "flip_to_predict",
        "Open a trading day for predictions (default universe if none is set); idempotent",
        "Opens the trading day that is due (`CYCLE_004` otherwise) for predictions: fetches the "
        "previous closes still missing for the baselines and sets the default universe if the day has "
        "none. Running it again changes nothing. Answers the job run.",
        lambda jobs, day: jobs.open_day(day),
    ),
    (
        "/session/cutoff", "cutoff", "Close a trading day for predictions at its cutoff; idempotent",
        "Closes a trading day for predictions at its scheduled cutoff (`CYCLE_003` before it) and "
        "counts the crowd's split. Running it again changes nothing. Answers the job run.",
        Jobs.cutoff,
    ),
    (
        "/universe/refresh-baselines", "refresh_baselines",
        "Move a day's baselines to the latest prices (only while it accepts predictions)",
        "Moves the baselines of a day's symbols to the latest prices, pre-market included where the "
        "provider has it, while the day accepts predictions; a prediction keeps the baseline of its "
        "own moment. Answers the job run.",
        Jobs.refresh_baselines,
    ),
    (
        "/eod/fetch", "eod_fetch",
        "Fetch EOD closes for a day (default: the last closed day); settlement follows once complete",
        "Fetches the end-of-day closes still missing for a day (default: the last closed trading day) "
        "from the EOD provider; once none is missing, the day's settlement is requested. Answers the "
        "job run.",
        Jobs.fetch_eod,
    ),
    (
        "/settlement/run", "settlement_run",
        "Settle a day now (default: the last closed day); idempotent",
        "Settles a day now (default: the last closed trading day): judges every prediction against "
        "its baseline and pays the winners. Settling a settled day again changes only what a price "
        "revision changed. Answers the job run.",
        Jobs.settle,
    ),
    (
        "/cycle/tick", "cycle_tick", "Do whatever part of the daily cycle is due and not done",
        "Does whatever part of the daily cycle is due and not done yet (open the day, refresh the "
        "baselines, cut off, fetch the closes, settle), as the scheduler's periodic tick; "
        "`details.actions` lists what it did. Answers the job run.",
        lambda jobs, _day: jobs.tick(),
    ),
    (
        "/maintenance/gc", "maintenance_gc",
        "Delete expired states, tokens, idempotency keys, rate windows",
        "Deletes what has expired: OAuth states, refresh tokens, idempotency keys and rate-limit "
        "windows; `details` counts each. Answers the job run.",
        lambda jobs, _day: jobs.gc(),
    ),
    (
        "/outbox/publish", "outbox_publish", "One outbox relay pass",
        "Runs one pass of the outbox relay: publishes the unpublished domain events to their queues; "
        "`details` counts those claimed, published, unrouted and failed. Answers the job run.",
        lambda jobs, _day: jobs.publish_outbox(),
    ),
):  # fmt: skip
    _job_route(_path, _name, _summary, _description, _run)


@router.post("/universe/upsert", summary="Replace a trading day's universe atomically")
def universe_upsert(jobs: JobsDep, body: UniverseUpsertIn) -> Envelope[JobOut]:
    """The scheduler's or a script's universe change: replaces a trading day's universe atomically, as
    `POST /admin/universe/upsert` does, and answers the job run."""
    return ok(JobOut.model_validate(jobs.upsert_universe(body)))


@vendor_router.post(
    "/vendor/eod-event",
    summary="Vendor push of EOD prices (HMAC-signed); a higher vendor_rev re-settles a settled day",
)
def vendor_eod_event(
    jobs: JobsDep, raw: Annotated[bytes, Depends(require_vendor_signature)]
) -> Envelope[JobOut]:
    """A data vendor pushes the EOD closes of a day, signed with HMAC-SHA256 (see the VendorSignature
    scheme); the body is `{asof, vendor_rev, prices: [{symbol, close, prev_close?}]}`. A higher
    `vendor_rev` than the stored one revises the closes and settles an already settled day again.
    Answers the job run."""
    try:
        event = VendorEventIn.model_validate_json(raw)
    except ValidationError as exc:
        raise ValidationFailedError(details=json.loads(exc.json(include_url=False))) from exc
    quotes = [
        EodQuote(
            symbol=p.symbol, asof=event.asof, close=p.close,
            prev_close=p.prev_close, vendor_rev=event.vendor_rev,
        )
        for p in event.prices
    ]  # fmt: skip
    return ok(JobOut.model_validate(jobs.ingest_vendor_event(event.asof, event.vendor_rev, quotes)))
