"""Housekeeping: delete what has expired. Safe to run any time, any number of times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from myapi.auth.repository import AuthRepository
from myapi.core.clock import Clock
from myapi.core.idempotency import IdempotencyRepository
from myapi.maintenance.repository import FlagsRepository
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


MODE_FLAG = "maintenance"
DEFAULT_RETRY_AFTER_S = 300


@dataclass(frozen=True)
class ModeState:
    enabled: bool
    message: str
    retry_after_s: int
    updated_at: datetime | None
    updated_by: str | None


OFF = ModeState(False, "", DEFAULT_RETRY_AFTER_S, None, None)


class MaintenanceMode:
    """The operator's maintenance switch: while on, player writes (`/v1` POST, PUT,
    PATCH, DELETE except sign-in and token refresh) answer 503 MAINT_001 with
    Retry-After; reads, `/admin`, `/internal` and the batch pipeline carry on."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._repo = FlagsRepository(session)
        self._clock = clock

    def state(self) -> ModeState:
        flag = self._repo.get(MODE_FLAG)
        if flag is None:
            return OFF
        value = flag.value
        return ModeState(
            enabled=bool(value.get("enabled", False)),
            message=str(value.get("message", "")),
            retry_after_s=int(value.get("retry_after_s", DEFAULT_RETRY_AFTER_S)),
            updated_at=flag.updated_at,
            updated_by=flag.updated_by,
        )

    def set(self, *, enabled: bool, message: str, retry_after_s: int, actor: str) -> ModeState:
        value = {"enabled": enabled, "message": message, "retry_after_s": retry_after_s}
        self._repo.put(MODE_FLAG, value, self._clock.now(), actor)
        return self.state()
