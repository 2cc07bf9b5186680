"""/internal: called by the scheduler (EventBridge) and vendors. Every route requires the
internal token (router-level guard) and is a thin adapter over one job of
myapi.jobs.definitions.Jobs: each run writes a `job_runs` row and answers with it."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Body, Depends
from pydantic import ValidationError

from myapi.auth.guards import require_internal, require_vendor_signature
from myapi.core.errors import ValidationFailedError
from myapi.core.schemas import Envelope, ok
from myapi.cycle.schemas import TradingDayIn
from myapi.deps import JobsDep
from myapi.internal.schemas import JobOut, VendorEventIn
from myapi.providers.eod.base import EodQuote
from myapi.universe.schemas import UniverseUpsertIn

router = APIRouter(prefix="/internal", tags=["internal"], dependencies=[Depends(require_internal)])
# Vendor webhooks authenticate with an HMAC signature instead of the internal token.
vendor_router = APIRouter(prefix="/internal", tags=["internal"])
DayBody = Annotated[TradingDayIn, Body(default_factory=TradingDayIn)]


@router.post("/maintenance/gc", summary="Delete expired states, tokens, idempotency keys, rate windows")
def maintenance_gc(jobs: JobsDep) -> Envelope[JobOut]:
    return ok(JobOut.of(jobs.gc()))


@router.post(
    "/session/flip-to-predict",
    summary="Open a trading day for predictions (default universe if none is set); idempotent",
)
def flip_to_predict(jobs: JobsDep, body: DayBody) -> Envelope[JobOut]:
    return ok(JobOut.of(jobs.open_day(body.trading_day)))


@router.post("/session/cutoff", summary="Close a trading day for predictions; idempotent")
def cutoff(jobs: JobsDep, body: DayBody) -> Envelope[JobOut]:
    return ok(JobOut.of(jobs.cutoff(body.trading_day)))


@router.post("/universe/upsert", summary="Replace a trading day's universe atomically")
def universe_upsert(jobs: JobsDep, body: UniverseUpsertIn) -> Envelope[JobOut]:
    return ok(JobOut.of(jobs.upsert_universe(body)))


@router.post("/cycle/tick", summary="Do whatever part of the daily cycle is due and not done")
def cycle_tick(jobs: JobsDep) -> Envelope[JobOut]:
    return ok(JobOut.of(jobs.tick()))


@router.post(
    "/eod/fetch",
    summary="Fetch EOD closes for a day (default: the last closed day); settlement follows once complete",
)
def eod_fetch(jobs: JobsDep, body: DayBody) -> Envelope[JobOut]:
    return ok(JobOut.of(jobs.fetch_eod(body.trading_day)))


@router.post("/settlement/run", summary="Settle a day now (default: the last closed day); idempotent")
def settlement_run(jobs: JobsDep, body: DayBody) -> Envelope[JobOut]:
    return ok(JobOut.of(jobs.settle(body.trading_day)))


@router.post("/outbox/publish", summary="One outbox relay pass")
def outbox_publish(jobs: JobsDep) -> Envelope[JobOut]:
    return ok(JobOut.of(jobs.publish_outbox()))


@vendor_router.post(
    "/vendor/eod-event",
    summary="Vendor push of EOD prices (HMAC-signed); a higher vendor_rev re-settles a settled day",
)
def vendor_eod_event(
    jobs: JobsDep, raw: Annotated[bytes, Depends(require_vendor_signature)]
) -> Envelope[JobOut]:
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
    return ok(JobOut.of(jobs.ingest_vendor_event(event.asof, event.vendor_rev, quotes)))
