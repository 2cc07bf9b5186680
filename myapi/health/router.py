"""Public operational endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from myapi.core.errors import ServiceUnavailableError
from myapi.core.schemas import Envelope, ErrorEnvelope, ok
from myapi.deps import ReadinessServiceDep
from myapi.health.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness: the process serves requests")
def health() -> Envelope[HealthOut]:
    """Liveness probe: answers 200 `{status: "ok"}` as long as the process serves requests. It checks
    no dependency, so a restart is the right answer to its failure."""
    return ok(HealthOut(status="ok"))


@router.get(
    "/ready",
    summary="Readiness: the database and the queue service answer",
    responses={503: {"model": ErrorEnvelope, "description": "A dependency is down; details name it"}},
)
def ready(readiness: ReadinessServiceDep) -> Envelope[ReadyOut]:
    """Readiness probe: checks that the database and the queue service answer. 200 with each check's
    result when both do; 503 `SYS_503` naming the failing check otherwise, so a load balancer stops
    sending traffic here."""
    report = readiness.check()
    if not report.ready:
        raise ServiceUnavailableError(
            "Not ready: " + ", ".join(report.failing), details={"checks": report.checks}
        )
    return ok(ReadyOut(status="ready", checks=report.checks))


@router.get("/metrics", summary="Prometheus metrics (text exposition format)")
def metrics(request: Request) -> Response:
    """Prometheus metrics in the text exposition format (not the JSON envelope): request counts and
    durations by method, route template and status, the database pools' use and the outbox's
    backlog."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
