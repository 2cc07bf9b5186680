"""A limit on request bodies, enforced before anything reads or parses one (pure ASGI).

* A `Content-Length` over the limit is answered 413 `SYS_413` at once: no byte of the
  body is read and no route, dependency or other middleware runs.
* A body of unknown length (`Transfer-Encoding: chunked`) is read here, counted as it
  arrives: reading stops as soon as the count passes the limit (413, the rest is never
  read); a body within the limit is handed to the app as one message.

The 413 carries `Connection: close`, so the server drops the connection instead of
reading (or waiting for) the rest of the body. The limit depends on the path: the
vendor webhooks carry a day's prices and get a larger one (BodyLimits.from_settings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from myapi.core.asgi import send_error
from myapi.core.config import Settings

CODE = "SYS_413"
MESSAGE = "Request body too large"
VENDOR_WEBHOOK_PREFIX = "/internal/vendor/"


@dataclass(frozen=True)
class BodyLimits:
    """The largest body (bytes) per path: the longest matching prefix's, else `default`."""

    default: int
    by_prefix: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyLimits:
        return cls(
            default=settings.max_request_body_bytes,
            by_prefix={VENDOR_WEBHOOK_PREFIX: settings.max_vendor_webhook_body_bytes},
        )

    def for_path(self, path: str) -> int:
        matches = [prefix for prefix in self.by_prefix if path.startswith(prefix)]
        return self.by_prefix[max(matches, key=len)] if matches else self.default


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when it has none (or not a number)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isascii() and text.isdigit() else None
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope["path"])
        length = declared_length(scope)
        if length is not None:
            if length > limit:
                await _refuse(send, limit)
                return
            # The server delivers exactly Content-Length bytes.
            await self.app(scope, receive, send)
            return

        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before the body was complete: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, limit: int) -> None:
    await send_error(send, 413, CODE, MESSAGE, {"max_bytes": limit}, [(b"connection", b"close")])
