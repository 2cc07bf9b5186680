"""Idempotency keys for player writes (IETF `Idempotency-Key` draft, as Stripe does it).

Per (player, key), inside the request's own unit of work:

1. `pg_try_advisory_xact_lock(player, key)` — taken by a request still in flight with
   the same key? Then 409 `IDEM_002` (retry later).
2. A stored, unexpired response for the key? Same fingerprint (method, path, and the
   canonical body: a JSON body re-serialised with sorted keys and no whitespace, so the
   same JSON written differently is the same request): replay the original status and
   body. Different fingerprint: 422 `IDEM_003`.
3. Otherwise run the use case and store its response in the same transaction, so the
   effect and the stored response commit together, or neither does.

Only successful responses are stored: a request that fails rolls back and may be
retried with the same key. Keys expire after IDEMPOTENCY_TTL_S (24 h); GC deletes them.

A route takes `IdempotentDep` and wraps its use case: `idem.run(user.id, 202, produce)`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, NamedTuple, TypeVar

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import bindparam, delete, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from myapi.core.clock import Clock
from myapi.core.db import DbSession
from myapi.core.deps import ContainerDep
from myapi.core.errors import AppError, ConflictError
from myapi.core.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

T = TypeVar("T", bound=BaseModel)


class InvalidIdempotencyKeyError(AppError):
    status_code = 400
    code = "IDEM_001"
    message = "Idempotency-Key must be 1-255 visible ASCII characters"


class IdempotencyInFlightError(ConflictError):
    code = "IDEM_002"
    message = "A request with this Idempotency-Key is still being processed; retry shortly"


class IdempotencyMismatchError(AppError):
    status_code = 422
    code = "IDEM_003"
    message = "This Idempotency-Key was used with a different request"


@dataclass(frozen=True)
class IdempotencyInput:
    key: str | None
    method: str
    path: str
    fingerprint: str
    # The fingerprint over the body as sent (how keys stored before the canonical form
    # were fingerprinted): a retry of such a request still replays. Only for 24 h, the
    # keys' lifetime, after the change.
    raw_fingerprint: str


def _fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def idempotency_input(request: Request) -> IdempotencyInput:
    key = request.headers.get(HEADER)
    body = await request.body() if key is not None else b""
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH and all(33 <= ord(ch) <= 126 for ch in key)):
        raise InvalidIdempotencyKeyError()
    method, path = request.method, request.url.path
    canonical = canonical_body(body)
    fingerprint = _fingerprint(method, path, canonical)
    raw = fingerprint if canonical == body else _fingerprint(method, path, body)
    return IdempotencyInput(key, method, path, fingerprint, raw)


def canonical_body(body: bytes) -> bytes:
    """A JSON body in one canonical form (sorted keys, no insignificant whitespace); any
    other body as it is."""
    if not body:
        return body
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


IdempotencyDep = Annotated[IdempotencyInput, Depends(idempotency_input)]


class StoredResponse(NamedTuple):
    request_hash: str
    response_status: int | None
    response_body: dict[str, Any] | None
    expires_at: datetime


# Constant statements: every keyed write runs them.
_FIND = text(
    "SELECT request_hash, response_status, response_body, expires_at FROM crypto.idempotency_keys "
    "WHERE user_id = :user_id AND key = :key"
)
_SAVE = text(
    """
    INSERT INTO crypto.idempotency_keys AS k
        (user_id, key, method, path, request_hash, response_status, response_body, created_at, expires_at)
    VALUES (:user_id, :key, :method, :path, :request_hash, :response_status, :response_body,
            :created_at, :expires_at)
    ON CONFLICT (user_id, key) DO UPDATE SET
        method = EXCLUDED.method, path = EXCLUDED.path, request_hash = EXCLUDED.request_hash,
        response_status = EXCLUDED.response_status, response_body = EXCLUDED.response_body,
        created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
    """
).bindparams(bindparam("response_body", type_=JSONB))


class IdempotencyRepository:
    """SQL for idempotency keys. Never commits."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def try_lock(self, user_id: int, key: str) -> bool:
        return bool(
            self.session.execute(
                text("SELECT pg_try_advisory_xact_lock(:uid, hashtext(:key))"),
                {"uid": user_id % 2_147_483_647, "key": key},
            ).scalar_one()
        )

    def find(self, user_id: int, key: str) -> StoredResponse | None:
        row = self.session.execute(_FIND, {"user_id": user_id, "key": key}).first()
        return None if row is None else StoredResponse(*row)

    def save(self, row: dict[str, Any]) -> None:
        """Store a response; replaces an expired row with the same key."""
        self.session.execute(_SAVE, row)

    def delete_expired(self, now: datetime) -> int:
        result = self.session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
        return int(getattr(result, "rowcount", 0) or 0)


def run_idempotent(
    session: Session,
    clock: Clock,
    ttl_s: int,
    user_id: int,
    request: IdempotencyInput,
    status_code: int,
    produce: Callable[[], T],
) -> T | JSONResponse:
    """Run `produce` at most once per (player, key); replay its response afterwards."""
    if request.key is None:
        return produce()
    repo = IdempotencyRepository(session)
    if not repo.try_lock(user_id, request.key):
        raise IdempotencyInFlightError()
    now = clock.now()
    stored = repo.find(user_id, request.key)
    if stored is not None and stored.expires_at > now:
        if stored.request_hash not in (request.fingerprint, request.raw_fingerprint):
            raise IdempotencyMismatchError()
        return JSONResponse(
            status_code=stored.response_status or status_code,
            content=stored.response_body,
            headers={"Idempotent-Replayed": "true"},
        )
    result = produce()
    repo.save(
        {
            "user_id": user_id,
            "key": request.key,
            "method": request.method,
            "path": request.path[:500],
            "request_hash": request.fingerprint,
            "response_status": status_code,
            "response_body": jsonable_encoder(result),
            "created_at": now,
            "expires_at": now + timedelta(seconds=ttl_s),
        }
    )
    return result


class IdempotentRequest:
    """The request's Idempotency-Key bound to its unit of work (see `run_idempotent`)."""

    def __init__(self, session: Session, clock: Clock, ttl_s: int, request: IdempotencyInput) -> None:
        self._session = session
        self._clock = clock
        self._ttl_s = ttl_s
        self._request = request

    def run(self, user_id: int, status_code: int, produce: Callable[[], T]) -> T | JSONResponse:
        """`produce()` at most once per (player, key); its stored response afterwards."""
        return run_idempotent(
            self._session, self._clock, self._ttl_s, user_id, self._request, status_code, produce
        )


async def idempotent_request(
    request: IdempotencyDep, session: DbSession, container: ContainerDep
) -> IdempotentRequest:
    # async: no I/O here (the key is checked inside the route's unit of work).
    return IdempotentRequest(session, container.clock(), container.settings().idempotency_ttl_s, request)


IdempotentDep = Annotated[IdempotentRequest, Depends(idempotent_request)]
