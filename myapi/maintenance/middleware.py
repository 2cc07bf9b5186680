"""Maintenance mode at the edge: while the operator's switch is on, a player write
(`/v1`, POST/PUT/PATCH/DELETE) answers 503 MAINT_001 with Retry-After before any route
runs. Sign-in and token refresh (`/v1/auth/...`) stay open, so an operator can still
get a token to switch it off; reads, `/admin`, `/internal` and the batch processes are
not affected.

The switch is one row shared by every instance; each process reads it at most every
MAINTENANCE_CACHE_S seconds (0: every write request), so a toggle takes effect
everywhere within that time.
"""

from __future__ import annotations

import logging
import time

from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from myapi.core.asgi import send_error
from myapi.core.clock import Clock
from myapi.core.db import unit_of_work
from myapi.maintenance.service import OFF, MaintenanceMode, ModeState

logger = logging.getLogger("myapi.maintenance")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EXEMPT_PREFIXES = ("/v1/auth/",)
CODE = "MAINT_001"
DEFAULT_MESSAGE = "The game is under maintenance; please retry later"


class MaintenanceModeMiddleware:
    def __init__(self, app: ASGIApp, factory: sessionmaker[Session], clock: Clock, cache_s: float) -> None:
        self.app = app
        self.factory = factory
        self.clock = clock
        self.cache_s = cache_s
        self._state: ModeState = OFF
        self._read_at = float("-inf")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITE_METHODS
            or not scope["path"].startswith("/v1/")
            or scope["path"].startswith(EXEMPT_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        state = await self._current()
        if not state.enabled:
            await self.app(scope, receive, send)
            return
        await send_error(
            send, 503, CODE, state.message or DEFAULT_MESSAGE, {"retry_after_s": state.retry_after_s},
            [(b"retry-after", str(state.retry_after_s).encode()), (b"cache-control", b"no-store")],
        )  # fmt: skip

    async def _current(self) -> ModeState:
        if time.monotonic() - self._read_at < self.cache_s:
            return self._state
        try:
            self._state = await to_thread.run_sync(self._read)
        except Exception:  # the database is down: the request fails on its own, not here
            logger.warning("maintenance switch unreadable; keeping the last known state", exc_info=True)
            return self._state
        self._read_at = time.monotonic()
        return self._state

    def _read(self) -> ModeState:
        with unit_of_work(self.factory) as session:
            return MaintenanceMode(session, self.clock).state()
