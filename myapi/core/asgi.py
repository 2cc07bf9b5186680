"""The pure-ASGI middlewares' one way to answer an error themselves (before or instead of
the app): the standard envelope as JSON with its length, and any extra headers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.types import Send

from myapi.core.errors import error_body


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    body = json.dumps(error_body(code, message, details)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
