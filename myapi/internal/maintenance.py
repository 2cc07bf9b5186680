"""Housekeeping: delete what has expired. Safe to run any time, any number of times."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from myapi.auth.repository import AuthRepository
from myapi.core.clock import Clock


class MaintenanceService:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def gc(self) -> dict[str, Any]:
        """Expired OAuth states and refresh tokens go; returns the counts deleted."""
        now = self._clock.now()
        auth = AuthRepository(self._session)
        return {
            "oauth_states_deleted": auth.delete_expired_states(now),
            "refresh_tokens_deleted": auth.delete_expired_refresh_tokens(now),
        }
