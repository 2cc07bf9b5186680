"""Rate limiting (SPEC §8): a sliding window kept in PostgreSQL, so every API process
shares it. One statement per request: it counts the hit in the current fixed window of
every key the request falls under (the player and route class, the IP) and returns
the previous window's count; the estimate weights that by how much of it still
overlaps the sliding window (the Cloudflare/nginx "sliding window counter").

It runs on a connection of its own and commits at once, so a request that later fails
still counts — hammering with bad requests is limited too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy import Engine, bindparam, delete, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import String

from myapi.core.config import Settings
from myapi.core.deps import ContainerDep
from myapi.core.errors import RateLimitedError
from myapi.core.models import RateLimitWindow
from myapi.core.security import TokenCheck, token_check

_HIT = text(
    """
    WITH hits AS (
        INSERT INTO crypto.rate_limits AS r (key, window_type, window_start, count)
        SELECT k, t, :window_start, 1 FROM unnest(:keys, :types) AS u(k, t)
        ON CONFLICT (key, window_type, window_start) DO UPDATE SET count = r.count + 1
        RETURNING r.key, r.window_type, r.count
    )
    SELECT h.key, h.window_type, h.count AS hits, COALESCE(p.count, 0) AS previous
    FROM hits h
    LEFT JOIN crypto.rate_limits p
      ON p.key = h.key AND p.window_type = h.window_type AND p.window_start = :previous_start
    """
).bindparams(bindparam("keys", type_=ARRAY(String)), bindparam("types", type_=ARRAY(String)))


@dataclass(frozen=True)
class Verdict:
    limit: int
    remaining: int
    reset_s: int
    retry_after_s: int | None  # set when the request is over the limit

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_s),
        }
        if self.retry_after_s is not None:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


class RateLimitRepository:
    """SQL for the windows. `hit` is one autocommitted statement on the limiter's engine
    (myapi.core.db.make_rate_limit_engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def hit(
        self, keys: list[tuple[str, str]], window_start: datetime, previous_start: datetime
    ) -> dict[tuple[str, str], tuple[int, int]]:
        with self.engine.connect() as conn:  # an autocommit engine: one statement, one round trip
            rows = conn.execute(
                _HIT,
                {
                    "keys": [k for k, _ in keys],
                    "types": [t for _, t in keys],
                    "window_start": window_start,
                    "previous_start": previous_start,
                },
            )
            return {(r.key, r.window_type): (int(r.hits), int(r.previous)) for r in rows}


def delete_expired_windows(session: Session, before: datetime) -> int:
    result = session.execute(delete(RateLimitWindow).where(RateLimitWindow.window_start < before))
    return int(getattr(result, "rowcount", 0) or 0)


def route_class(method: str, path: str) -> str:
    if path.startswith("/v1/auth/"):
        return "auth"
    return "read" if method in ("GET", "HEAD", "OPTIONS") else "write"


class RateLimiter:
    def __init__(self, repo: RateLimitRepository, settings: Settings) -> None:
        self._repo = repo
        self._window = settings.rate_limit_window_s
        self._limits = {
            "read": settings.rate_limit_read,
            "write": settings.rate_limit_write,
            "auth": settings.rate_limit_auth,
            "ip": settings.rate_limit_ip,
        }

    def check(self, now: datetime, klass: str, user_id: int | None, ip: str) -> Verdict:
        epoch = int(now.timestamp())
        start = epoch - epoch % self._window
        window_start = datetime.fromtimestamp(start, UTC)
        elapsed = (now.timestamp() - start) / self._window
        keys: list[tuple[str, str]] = [(f"ip:{ip}", "ip")]
        if klass == "auth":
            keys.append((f"ip:{ip}", "auth"))
        elif user_id is not None:
            keys.append((f"user:{user_id}", klass))
        counts = self._repo.hit(keys, window_start, window_start - timedelta(seconds=self._window))
        reset_s = max(1, math.ceil(self._window * (1 - elapsed)))
        verdicts: list[Verdict] = []
        for (_, kind), (count, previous) in counts.items():
            limit = self._limits[kind]
            estimate = previous * (1 - elapsed) + count
            retry: int | None = None
            if estimate > limit:
                if count > limit or previous == 0:
                    retry = reset_s
                else:
                    # When the previous window's weight has faded enough.
                    needed = 1 - (limit - count) / previous
                    retry = max(1, math.ceil((needed - elapsed) * self._window))
            verdicts.append(Verdict(limit, max(0, math.floor(limit - estimate)), reset_s, retry))
        over = [v for v in verdicts if v.retry_after_s is not None]
        if over:
            return max(over, key=_retry_after)
        return min(verdicts, key=lambda v: v.remaining)


def _retry_after(verdict: Verdict) -> int:
    return verdict.retry_after_s or 0


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
