"""Audit of every /admin and /internal write request (POST, PUT, PATCH, DELETE), in one
pure-ASGI middleware so that no route can forget it.

The row is written when the response starts, before the status line goes out: a caller
that saw an answer finds its audit row. Recorded: calls whose caller the guards
identified (an ADMIN, a player refused by the ADMIN guard, the scheduler's internal
token, a vendor's signature), whatever they answered, refusals included; anonymous
calls (no or a bad token) are not (the access log has them) so they cannot fill the
table. The actor is what the guards leave in the request state (`AUDIT_ACTOR`).
"""

from __future__ import annotations

import logging

from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from myapi.audit.service import MAX_BODY_BYTES, AuditedRequest, AuditService
from myapi.core.clock import Clock
from myapi.core.db import unit_of_work
from myapi.core.request_context import current_request_id

logger = logging.getLogger("myapi.audit")

AUDITED_PREFIXES = ("/admin/", "/internal/")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AUDIT_ACTOR = "audit_actor"  # request.state key: (actor, actor_user_id)


class AuditMiddleware:
    def __init__(self, app: ASGIApp, factory: sessionmaker[Session], clock: Clock) -> None:
        self.app = app
        self.factory = factory
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITE_METHODS
            or not scope["path"].startswith(AUDITED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        kept = bytearray()
        size = 0

        async def teeing_receive() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                size += len(chunk)
                if len(kept) <= MAX_BODY_BYTES:
                    kept.extend(chunk[: MAX_BODY_BYTES + 1 - len(kept)])
            return message

        async def auditing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                await self._record(scope, message["status"], bytes(kept), size)
            await send(message)

        await self.app(scope, teeing_receive, auditing_send)

    async def _record(self, scope: Scope, status: int, body: bytes, size: int) -> None:
        actor = scope.get("state", {}).get(AUDIT_ACTOR)
        route = scope.get("route")
        if actor is None or route is None:  # anonymous, or no such route
            return
        request = AuditedRequest(
            actor=actor[0],
            actor_user_id=actor[1],
            method=scope["method"],
            path=scope["path"],
            route=getattr(route, "path", ""),
            name=getattr(route, "name", "") or "unnamed",
            path_params={k: str(v) for k, v in scope.get("path_params", {}).items()},
            query=scope.get("query_string", b"").decode("latin-1"),
            body=body,
            body_size=size,
            status=status,
            request_id=current_request_id(),
        )
        try:
            await to_thread.run_sync(self._write, request)
        except Exception:  # the call's own outcome stands; a missing row is logged loudly
            logger.exception("audit row not written", extra={"action": request.name, "path": request.path})

    def _write(self, request: AuditedRequest) -> None:
        with unit_of_work(self.factory) as session:
            AuditService(session, self.clock).record_request(request)
