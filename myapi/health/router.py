"""Operational endpoints: liveness and readiness (public), Prometheus metrics (behind
METRICS_TOKEN where it is set; production requires it)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from myapi.core.deps import ContainerDep
from myapi.core.errors import ForbiddenError, ServiceUnavailableError, UnauthorizedError
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


async def require_metrics_token(request: Request, container: ContainerDep) -> None:
    """`Authorization: Bearer <METRICS_TOKEN>` when the token is set (compared in constant
    time); nothing to check when it is empty (development). Read from the request, not
    declared as a header parameter: the OpenAPI document describes it in words, since
    whether it is needed is the deployment's setting."""
    expected = container.settings().metrics_token
    if not expected:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedError("Metrics token required", headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise ForbiddenError("Invalid metrics token")


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    dependencies=[Depends(require_metrics_token)],
    responses={
        401: {
            "model": ErrorEnvelope,
            "description": "`AUTH_001`: METRICS_TOKEN is set and no bearer token was sent",
        },
        403: {"model": ErrorEnvelope, "description": "`AUTH_003`: the bearer token is not METRICS_TOKEN"},
    },
)
def metrics(request: Request) -> Response:
    """Prometheus metrics in the text exposition format (not the JSON envelope): request counts and
    durations by method, route template and status, the database pools' use and the outbox's
    backlog. Where METRICS_TOKEN is set (production requires it) the scraper sends
    `Authorization: Bearer <METRICS_TOKEN>`: 401 `AUTH_001` without it, 403 `AUTH_003` with another."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
