"""The audit log's use cases: one row per /admin or /internal write request, and the
operators' search over every row."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from myapi.audit.models import AuditLog
from myapi.audit.repository import AuditFilter, AuditRepository
from myapi.core.clock import Clock

__all__ = ["AuditFilter", "AuditService", "AuditedRequest", "redact"]

MAX_BODY_BYTES = 16_384  # a larger body is recorded by its size only
SECRET_KEY = re.compile(r"token|secret|password|signature|credential|authorization|code_verifier", re.I)
REDACTED = "[redacted]"


@dataclass(frozen=True)
class AuditedRequest:
    """What the middleware saw of one write request."""

    actor: str
    actor_user_id: int | None
    method: str
    path: str
    route: str  # the route's template, e.g. /admin/users/{user_id}/adjust-points
    name: str  # the route's name, e.g. adjust_points
    path_params: dict[str, str]
    query: str
    body: bytes
    body_size: int  # bytes received (body holds at most MAX_BODY_BYTES of them)
    status: int
    request_id: str | None


def redact(value: Any) -> Any:
    """The value with every secret-looking key's value replaced (recursively)."""
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _body(request: AuditedRequest) -> Any:
    if not request.body_size:
        return None
    if request.body_size > MAX_BODY_BYTES:
        return {"omitted_bytes": request.body_size}
    try:
        return redact(json.loads(request.body))
    except ValueError:
        return {"unparsed_bytes": request.body_size}


def _target(request: AuditedRequest, body: Any) -> str | None:
    """`user:5`, `redemption:7`, `day:2026-11-24/symbol:AAPL`: the route's path
    parameters (an `_id` suffix dropped), else the trading day of the body."""
    parts = [f"{key.removesuffix('_id').replace('trading_day', 'day')}:{value}"
             for key, value in request.path_params.items()]  # fmt: skip
    if not parts and isinstance(body, dict) and isinstance(body.get("trading_day"), str):
        parts.append(f"day:{body['trading_day']}")
    return "/".join(parts)[:200] or None


class AuditService:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._repo = AuditRepository(session)
        self._clock = clock

    def record_request(self, request: AuditedRequest) -> int:
        """The request's row: action `<admin|internal>.<route name>`, target from the path,
        payload = method, route, path, query, the (redacted) body."""
        area = request.path.strip("/").split("/", 1)[0]
        body = _body(request)
        payload: dict[str, Any] = {"method": request.method, "route": request.route, "path": request.path}
        if request.query:
            payload["query"] = request.query[:2000]
        if body is not None:
            payload["body"] = body
        return self._repo.record(
            actor=request.actor,
            actor_user_id=request.actor_user_id,
            action=f"{area}.{request.name}",
            target=_target(request, body),
            payload=payload,
            now=self._clock.now(),
            status=request.status,
            request_id=request.request_id,
        )

    def record_step(
        self, *, actor: str, step: str, trading_day: str | None, run_id: int, details: dict[str, Any]
    ) -> int:
        """A batch step that changed something (the scheduler's cycle steps): action
        `cycle.<step>`, target the trading day, payload the job run and its details."""
        return self._repo.record(
            actor=actor,
            action=f"cycle.{step}",
            target=f"day:{trading_day}" if trading_day else None,
            payload={"run_id": run_id, **details},
            now=self._clock.now(),
        )

    def search(self, where: AuditFilter, limit: int, offset: int) -> tuple[list[AuditLog], int]:
        return self._repo.search(where, limit, offset)
