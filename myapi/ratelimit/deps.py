"""The rate limit as a FastAPI dependency: every /v1 router carries it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from myapi.auth.guards import TokenCheck, token_check
from myapi.core.deps import ContainerDep
from myapi.core.errors import RateLimitedError
from myapi.ratelimit.service import route_class


def client_ip(request: Request) -> str:
    # Behind a load balancer, run uvicorn with --proxy-headers and --forwarded-allow-ips
    # so request.client is the real client.
    return request.client.host if request.client else "unknown"


def rate_limit(
    request: Request,
    response: Response,
    container: ContainerDep,
    token: Annotated[TokenCheck, Depends(token_check)],
) -> None:
    """Router-level dependency for every /v1 route."""
    settings = container.settings()
    if not settings.rate_limit_enabled:
        return
    limiter = container.rate_limiter()
    verdict = limiter.check(
        container.clock().now(),
        route_class(request.method, request.url.path),
        token.claims.user_id if token.claims else None,
        client_ip(request),
    )
    if verdict.retry_after_s is not None:
        raise RateLimitedError(
            "Too many requests; slow down",
            details={"retry_after_s": verdict.retry_after_s},
            headers=verdict.headers(),
        )
    response.headers.update(verdict.headers())
