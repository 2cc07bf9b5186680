"""Operator alerts to a chat webhook (`WebhookSink`): one JSON POST that both a Slack
incoming webhook and a Discord webhook accept.

    POST <ALERT_WEBHOOK_URL>
    {"text": "<message>", "content": "<message, at most 2000 characters>", "username": "OX Universe"}

Slack reads `text` (and ignores the rest); Discord reads `content` and `username` (and
ignores `text`). Any 2xx is delivered (Slack answers 200 "ok", Discord 204).

* 429 and 5xx, and a connection that could not be made (nothing was sent), are tried
  again: `attempts` in all, the first included, waiting `backoff_s` between (for a 429 the
  server's Retry-After, or Discord's `retry_after`, capped at MAX_RETRY_AFTER_S).
* Anything else (another 4xx, a redirect, a timeout or connection lost after the request
  went out) raises AlertDeliveryError at once. A timeout after sending may still have
  been delivered: the alert is then posted again later (at least once, never lost).
* Timeouts are explicit (each attempt), redirects are not followed.

The webhook URL is a credential (Slack and Discord put the token in the path): it never
appears in an exception or a log line of ours, and httpx's own request log line has it
replaced (`_RedactUrl`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from myapi.providers.alerts.base import AlertDeliveryError, AlertMessage

logger = logging.getLogger("myapi.alerts")

USERNAME = "OX Universe"
DISCORD_CONTENT_MAX = 2000  # Discord refuses longer content
TEXT_MAX = 3900  # Slack shows about 4000 characters before truncating a message
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 5.0
# Raised before any byte of the request left: trying again cannot post twice.
_NOT_SENT: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def payload(message: AlertMessage) -> dict[str, str]:
    """The JSON body: Slack's `text`, Discord's `content` and `username`."""
    text = _clip(message.text, TEXT_MAX)
    return {"text": text, "content": _clip(text, DISCORD_CONTENT_MAX), "username": USERNAME}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class WebhookSink:
    name = "webhook"

    def __init__(
        self,
        http: httpx.Client,
        url: str,
        *,
        timeout_s: float = 3.0,
        attempts: int = 3,
        backoff_s: tuple[float, ...] = (0.5, 1.0),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts counts the first one: at least 1")
        self.http = http
        self.url = url
        self.timeout = httpx.Timeout(timeout_s)
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s or (0.0,)
        self.sleep = sleep
        _redact_in_httpx_log(url)

    def __repr__(self) -> str:  # never the URL: it is a credential
        return f"WebhookSink(host={httpx.URL(self.url).host!r})"

    @property
    def max_duration_s(self) -> float:
        # connect + write + read may each take the timeout; a wait is at most
        # MAX_RETRY_AFTER_S (or the longest back-off).
        longest_wait = max(MAX_RETRY_AFTER_S, *self.backoff_s)
        return self.attempts * 3 * self.timeout_s + (self.attempts - 1) * longest_wait

    def post(self, message: AlertMessage) -> None:
        body = payload(message)
        last = ""
        for attempt in range(self.attempts):
            retry_after: float | None = None
            try:
                response = self.http.post(self.url, json=body, timeout=self.timeout, follow_redirects=False)
            except _NOT_SENT as exc:
                last = f"{type(exc).__name__} (not sent)"
            except httpx.HTTPError as exc:
                raise AlertDeliveryError(f"alert webhook: {type(exc).__name__}") from None
            else:
                if response.is_success:
                    return
                last = f"HTTP {response.status_code}"
                if response.status_code not in RETRY_STATUSES:
                    raise AlertDeliveryError(f"alert webhook refused the message: {last}")
                if response.status_code == 429:
                    retry_after = _retry_after(response)
            if attempt + 1 < self.attempts:
                wait = self._wait(attempt, retry_after)
                logger.warning(
                    "alert webhook: attempt %d/%d failed (%s), retrying in %.2fs",
                    attempt + 1, self.attempts, last, wait,
                )  # fmt: skip
                self.sleep(wait)
        raise AlertDeliveryError(f"alert webhook: {last} after {self.attempts} attempts")

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), MAX_RETRY_AFTER_S)
        return self.backoff_s[min(attempt, len(self.backoff_s) - 1)]


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait on a 429: the Retry-After header (Slack), else Discord's JSON
    `retry_after`; None when neither is readable."""
    header = response.headers.get("retry-after")
    if header:
        try:
            return float(header)
        except ValueError:
            return None
    try:
        body: Any = response.json()
    except ValueError:
        return None
    value = body.get("retry_after") if isinstance(body, dict) else None
    return float(value) if isinstance(value, int | float) else None


class _RedactUrl(logging.Filter):
    """httpx logs every request's URL at INFO; a webhook's URL is its credential."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and self.urls:
            record.args = tuple(self._redact(arg) for arg in record.args)
        return True

    def _redact(self, arg: object) -> object:
        text = str(arg)
        for url in self.urls:
            if text.startswith(url):
                return f"{httpx.URL(url).scheme}://{httpx.URL(url).host}/<alert webhook>"
        return arg


_redactor = _RedactUrl()
_redactor_lock = threading.Lock()


def _redact_in_httpx_log(url: str) -> None:
    with _redactor_lock:
        if not _redactor.urls:
            logging.getLogger("httpx").addFilter(_redactor)
        _redactor.urls.add(url)
