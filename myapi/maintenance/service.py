"""Housekeeping: delete what has expired. Safe to run any time, any number of times."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from myapi.auth.repository import AuthRepository
from myapi.core.clock import Clock
from myapi.core.idempotency import IdempotencyRepository
from myapi.ratelimit.repository import delete_expired_windows


class MaintenanceService:
    def __init__(self, session: Session, clock: Clock, rate_limit_window_s: int) -> None:
        self._session = session
        self._clock = clock
        self._window = timedelta(seconds=rate_limit_window_s)

    def gc(self) -> dict[str, Any]:
        """Expired OAuth states, refresh tokens, idempotency keys and rate-limit windows
        (those older than the previous window, which the sliding estimate still reads)
        go; returns the counts deleted."""
        now = self._clock.now()
        auth = AuthRepository(self._session)
        return {
            "oauth_states_deleted": auth.delete_expired_states(now),
            "refresh_tokens_deleted": auth.delete_expired_refresh_tokens(now),
            "idempotency_keys_deleted": IdempotencyRepository(self._session).delete_expired(now),
            "rate_limit_windows_deleted": delete_expired_windows(self._session, now - 2 * self._window),
        }
