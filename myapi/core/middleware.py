"""One pure-ASGI middleware for what every request needs: a request id, an access log
line, metrics by route template, and a last-resort 500 envelope for bugs.

Pure ASGI (not BaseHTTPMiddleware) keeps the hot path cheap and streaming-safe.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from myapi.core.asgi import send_error
from myapi.core.errors import INTERNAL_ERROR_CODE, INTERNAL_ERROR_MESSAGE
from myapi.core.metrics import Metrics
from myapi.core.request_context import accept_or_generate, reset_request_id, set_request_id

access_logger = logging.getLogger("myapi.access")
error_logger = logging.getLogger("myapi.errors")

REQUEST_ID_HEADER = b"x-request-id"
UNMATCHED_ROUTE = "<unmatched>"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        incoming = None
        for name, value in scope.get("headers", ()):
            if name == REQUEST_ID_HEADER:
                incoming = value.decode("latin-1")
                break
        request_id = accept_or_generate(incoming)
        token = set_request_id(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((REQUEST_ID_HEADER, request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            error_logger.exception(
                "unhandled error",
                extra={"request_id": request_id, "method": scope["method"], "path": scope["path"]},
            )
            if not response_started:
                await send_error(send_with_request_id, 500, INTERNAL_ERROR_CODE, INTERNAL_ERROR_MESSAGE)
            status = 500
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            self.metrics.observe_request(scope["method"], template, status, elapsed)
            access_logger.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            reset_request_id(token)
