"""/internal: called by the scheduler (EventBridge) and vendors. Every route requires the
internal token (router-level guard); each step runs as a job with a job_runs row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel
from sqlalchemy.orm import Session

from myapi.container import Container
from myapi.core.deps import ContainerDep
from myapi.core.schemas import Envelope, ok
from myapi.core.security import require_internal
from myapi.cycle.jobs import JobResult, JobRunner
from myapi.cycle.schemas import TradingDayIn
from myapi.cycle.service import SessionService
from myapi.internal.maintenance import MaintenanceService
from myapi.universe.schemas import UniverseUpsertIn
from myapi.universe.service import UniverseService

router = APIRouter(prefix="/internal", tags=["internal"], dependencies=[Depends(require_internal)])
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
