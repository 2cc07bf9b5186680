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


def _job_route(path: str, name: str, summary: str, run: Callable[[Jobs, date | None], JobResult]) -> None:
    """POST /internal{path}: run one job (with the body's optional trading day)."""

    def endpoint(jobs: JobsDep, body: DayBody) -> Envelope[JobOut]:
        return ok(JobOut.model_validate(run(jobs, body.trading_day)))

    endpoint.__name__ = endpoint.__qualname__ = name
    router.add_api_route(
        path, endpoint, methods=["POST"], name=name, summary=summary, response_model=Envelope[JobOut]
    )


# path, name, summary, the job. A job without a day ignores the body's trading_day.
for _path, _name, _summary, _run in (
    (
        "/session/flip-to-predict", "flip_to_predict",
        "Open a trading day for predictions (default universe if none is set); idempotent",
        lambda jobs, day: jobs.open_day(day),
    ),
    (
        "/session/cutoff", "cutoff", "Close a trading day for predictions at its cutoff; idempotent",
        Jobs.cutoff,
    ),
    (
        "/universe/refresh-baselines", "refresh_baselines",
        "Move a day's baselines to the latest prices (only while it accepts predictions)",
        Jobs.refresh_baselines,
    ),
    (
        "/eod/fetch", "eod_fetch",
        "Fetch EOD closes for a day (default: the last closed day); settlement follows once complete",
        Jobs.fetch_eod,
    ),
    (
        "/settlement/run", "settlement_run",
        "Settle a day now (default: the last closed day); idempotent", Jobs.settle,
    ),
    (
        "/cycle/tick", "cycle_tick", "Do whatever part of the daily cycle is due and not done",
        lambda jobs, _day: jobs.tick(),
    ),
    (
        "/maintenance/gc", "maintenance_gc",
        "Delete expired states, tokens, idempotency keys, rate windows", lambda jobs, _day: jobs.gc(),
    ),
    ("/outbox/publish", "outbox_publish", "One outbox relay pass", lambda jobs, _day: jobs.publish_outbox()),
):  # fmt: skip
    _job_route(_path, _name, _summary, _run)


@router.post("/universe/upsert", summary="Replace a trading day's universe atomically")
def universe_upsert(jobs: JobsDep, body: UniverseUpsertIn) -> Envelope[JobOut]:
    return ok(JobOut.model_validate(jobs.upsert_universe(body)))


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
    return ok(JobOut.model_validate(jobs.ingest_vendor_event(event.asof, event.vendor_rev, quotes)))
