"""SQL for the rate-limit windows. `hit` is one autocommitted statement on the
limiter's own engine (myapi.core.db.make_rate_limit_engine); GC deletes old windows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, bindparam, delete, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import String

from myapi.ratelimit.models import RateLimitWindow

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


class RateLimitRepository:
    """The counters: one autocommitted statement per request on the limiter's engine."""

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
