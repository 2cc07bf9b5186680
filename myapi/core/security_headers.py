"""Security headers on every response (pure ASGI), each added only where the response
does not carry its own: the web pages (myapi/core/webassets.py) and the docs pages set
their own CSP and caching, and keep them.

* `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy:
  no-referrer` (what the pages send: nothing of a URL leaves with a request);
* `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`: a JSON (or any
  other non-page) answer loads nothing and is framed nowhere, even if opened as a page;
* `Cache-Control: no-store` on every answer that sets no caching of its own: the API's
  answers are per-player data, tokens or live state, none for a shared cache (the static
  files' `public, max-age=...` / `no-cache` + ETag are their own and stay);
* on `/v1/auth/*` (token answers: OAuth callbacks, refresh, dev-login) `Cache-Control:
  no-store` and `Pragma: no-cache` always, whatever the route set (RFC 6749 §5.1);
* `Strict-Transport-Security: max-age=HSTS_MAX_AGE_S` in production only.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from myapi.core.config import Settings

JSON_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
DEFAULT_CACHE_CONTROL = "no-store"
TOKEN_PATH_PREFIX = "/v1/auth/"
_DEFAULTS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", JSON_CONTENT_SECURITY_POLICY.encode()),
    (b"cache-control", DEFAULT_CACHE_CONTROL.encode()),
)
_TOKEN_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
)


def hsts_max_age(settings: Settings) -> int:
    """The HSTS max-age to send: HSTS_MAX_AGE_S in production, none elsewhere (a
    development server on http:// must not pin a browser to https://)."""
    return settings.hsts_max_age_s if settings.is_production else 0


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        defaults = list(_DEFAULTS)
        max_age = hsts_max_age(settings)
        if max_age > 0:
            defaults.append((b"strict-transport-security", f"max-age={max_age}".encode()))
        self.defaults = tuple(defaults)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        forced = _TOKEN_HEADERS if scope["path"].startswith(TOKEN_PATH_PREFIX) else ()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": self._headers(message.get("headers", ()), forced)}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _headers(
        self, headers: Iterable[tuple[bytes, bytes]], forced: tuple[tuple[bytes, bytes], ...]
    ) -> list[tuple[bytes, bytes]]:
        replaced = {name for name, _ in forced}
        out = [(name, value) for name, value in headers if name.lower() not in replaced]
        out.extend(forced)
        present = {name.lower() for name, _ in out}
        out.extend((name, value) for name, value in self.defaults if name not in present)
        return out
