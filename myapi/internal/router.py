"""/internal: called by the scheduler (EventBridge) and vendors. Every route requires the
internal token (router-level guard); each step runs as a job with a job_runs row."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session

from myapi.container import Container
from myapi.core.deps import ContainerDep
from myapi.core.errors import ValidationFailedError
from myapi.core.schemas import Envelope, ok
from myapi.core.security import require_internal, require_vendor_signature
from myapi.cycle.jobs import JobResult, JobRunner
from myapi.cycle.schemas import TradingDayIn
from myapi.cycle.service import SessionService
from myapi.cycle.tick import CycleService
from myapi.internal.maintenance import MaintenanceService
from myapi.market.service import EodService, ingest_vendor_event
from myapi.outbox.relay import OutboxRelay
from myapi.providers.eod.base import EodQuote
from myapi.settlement.service import SettlementService
from myapi.universe.schemas import SymbolField, UniverseUpsertIn
from myapi.universe.service import UniverseService

router = APIRouter(prefix="/internal", tags=["internal"], dependencies=[Depends(require_internal)])
# Vendor webhooks authenticate with an HMAC signature instead of the internal token.
vendor_router = APIRouter(prefix="/internal", tags=["internal"])
INTERNAL_ACTOR = "internal:scheduler"


class JobOut(BaseModel):
    run_id: int
    job: str
    status: str
    details: dict[str, Any]


def _run(container: Container, job: str, work: Callable[[Session], dict[str, Any]]) -> Envelope[JobOut]:
    result: JobResult = JobRunner(container.sessionmaker(), container.clock()).run(job, work)
    return ok(JobOut(run_id=result.run_id, job=result.job, status=result.status, details=result.details))


def _sessions(session: Session, container: Container) -> SessionService:
    return SessionService(session, container.clock(), container.settings(), container.calendar())


def _universe(session: Session, container: Container) -> UniverseService:
    return UniverseService(session, container.clock(), container.settings(), container.calendar())


@router.post("/maintenance/gc", summary="Delete expired states, tokens, idempotency keys, rate windows")
def maintenance_gc(container: ContainerDep) -> Envelope[JobOut]:
    clock, window = container.clock(), container.settings().rate_limit_window_s
    return _run(container, "maintenance.gc", lambda s: MaintenanceService(s, clock, window).gc())


@router.post(
    "/session/flip-to-predict",
    summary="Open a trading day for predictions (default universe if none is set); idempotent",
)
def flip_to_predict(
    container: ContainerDep, body: TradingDayIn = Body(default_factory=TradingDayIn)
) -> Envelope[JobOut]:
    def work(session: Session) -> dict[str, Any]:
        sessions = _sessions(session, container)
        day = body.trading_day or sessions.current_trading_day()
        sessions.times(day)  # 409 on a non-trading day, before anything is written
        universe_set = _universe(session, container).ensure_default(day, actor=INTERNAL_ACTOR)
        return {**sessions.open(day), "default_universe_set": universe_set}

    return _run(container, "session.open", work)


@router.post("/session/cutoff", summary="Close a trading day for predictions; idempotent")
def cutoff(
    container: ContainerDep, body: TradingDayIn = Body(default_factory=TradingDayIn)
) -> Envelope[JobOut]:
    return _run(container, "session.cutoff", lambda s: _sessions(s, container).cutoff(body.trading_day))


@router.post("/universe/upsert", summary="Replace a trading day's universe atomically")
def universe_upsert(container: ContainerDep, body: UniverseUpsertIn) -> Envelope[JobOut]:
    def work(session: Session) -> dict[str, Any]:
        result = _universe(session, container).upsert(body.trading_day, body.symbols, actor=INTERNAL_ACTOR)
        return result.model_dump(mode="json")

    return _run(container, "universe.upsert", work)


def _last_closed_day(container: Container) -> date:
    """The most recent trading day whose market has closed."""
    calendar = container.calendar()
    return calendar.previous_trading_day(calendar.trading_day_for(container.clock().now()))


@router.post("/cycle/tick", summary="Do whatever part of the daily cycle is due and not done")
def cycle_tick(container: ContainerDep) -> Envelope[dict[str, Any]]:
    actions = CycleService(
        container.sessionmaker(), container.clock(), container.settings(), container.calendar()
    ).tick()
    return ok({"actions": actions})


@router.post("/eod/fetch", summary="Fetch EOD closes for a day now (default: the last closed day)")
def eod_fetch(
    container: ContainerDep, body: TradingDayIn = Body(default_factory=TradingDayIn)
) -> Envelope[JobOut]:
    day = body.trading_day or _last_closed_day(container)
    service = EodService(
        container.sessionmaker(),
        container.clock(),
        container.settings(),
        container.eod_providers(),
        container.eod_breakers(),
    )
    result = JobRunner(container.sessionmaker(), container.clock()).run(
        "eod.fetch", lambda _s: service.fetch(day), day
    )
    return ok(JobOut(run_id=result.run_id, job=result.job, status=result.status, details=result.details))


@router.post("/settlement/run", summary="Settle a day now (default: the last closed day); idempotent")
def settlement_run(
    container: ContainerDep, body: TradingDayIn = Body(default_factory=TradingDayIn)
) -> Envelope[JobOut]:
    day = body.trading_day or _last_closed_day(container)
    clock, settings = container.clock(), container.settings()
    return _run(container, "settlement.run", lambda s: SettlementService(s, clock, settings).settle(day))


@router.post("/outbox/publish", summary="One outbox relay pass")
def outbox_publish(container: ContainerDep) -> Envelope[dict[str, Any]]:
    relay = OutboxRelay(container.sessionmaker(), container.queue(), container.settings(), container.clock())
    return ok(relay.publish_once().as_dict())


class VendorPriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: SymbolField
    close: Decimal = Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False)
    prev_close: Decimal | None = Field(
        default=None, gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False
    )


class VendorEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asof: date
    vendor_rev: int = Field(ge=0, le=2_147_483_647)
    prices: list[VendorPriceIn] = Field(min_length=1, max_length=5000)

    @field_validator("prices")
    @classmethod
    def _unique(cls, prices: list[VendorPriceIn]) -> list[VendorPriceIn]:
        symbols = [p.symbol for p in prices]
        if len(set(symbols)) != len(symbols):
            raise ValueError("each symbol may appear once per event")
        return prices


@vendor_router.post(
    "/vendor/eod-event",
    summary="Vendor push of EOD prices (HMAC-signed); a higher vendor_rev re-settles a settled day",
)
def vendor_eod_event(
    container: ContainerDep, raw: Annotated[bytes, Depends(require_vendor_signature)]
) -> Envelope[JobOut]:
    try:
        event = VendorEventIn.model_validate_json(raw)
    except ValidationError as exc:
        raise ValidationFailedError(details=json.loads(exc.json(include_url=False))) from exc
    clock = container.clock()
    quotes = [
        EodQuote(
            symbol=p.symbol, asof=event.asof, close=p.close,
            prev_close=p.prev_close, vendor_rev=event.vendor_rev,
        )
        for p in event.prices
    ]  # fmt: skip

    return _run(
        container,
        "eod.vendor_event",
        lambda s: ingest_vendor_event(s, clock, event.asof, event.vendor_rev, quotes),
    )
