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

from myapi.core.config import Settings
from myapi.ratelimit.repository import RateLimitRepository


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
