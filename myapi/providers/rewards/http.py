"""A gift-code vendor over HTTP/JSON (`HttpRewardVendor`).

There is no real vendor yet; this is the protocol we speak, which a vendor (or an
adapter in front of one) implements. Every request carries
`Authorization: Bearer <api_key>` and `Accept: application/json`.

Issue (place or find) an order:

    POST {base_url}/v1/orders
    Idempotency-Key: <key>
    {"idempotency_key": "<key>", "sku": "<sku>", "user_ref": "<user_ref>"}

    201 (placed) / 200 (already placed under that key, same request)
        {"order": {"key": "<key>", "status": "ISSUED" | "PENDING" | "FAILED",
                   "code": "<gift code>" (when ISSUED), "reason": "<text>" (optional)}}
    409 the key was used before with a different sku/user_ref
    4xx {"error": {"type": "<out_of_stock|unknown_sku|...>", "reason": "<text>"}}
    429 / 5xx: nothing was recorded, try again (same key)

Look an order up by its key:

    GET {base_url}/v1/orders/{key}
    200 {"order": {...}} as above; 404 no order under that key

The vendor dedups by key: an order is placed at most once per key, and asking again
(POST with the same request, or GET) answers that same order, so one key never gets two
codes.

How answers map to results (see base.py for what each means to the caller):

* 200/201 with a well-formed order for the key -> `VendorOrder` (a FAILED order is
  returned, not raised: it is the vendor's definitive answer).
* 4xx other than 429 (and 404 on GET) -> `VendorRejectedError` with the vendor's
  `error.reason` (for GET: `VendorUnavailableError`, the lookup was refused, not the order).
* 429, 5xx, and transport errors before the request was sent (connect error or timeout,
  no pooled connection) -> retried up to `retries` attempts in all, with exponential
  back-off and jitter (tenacity), then `VendorUnavailableError`. Retrying a POST is safe:
  it carries the same key. `Retry-After` is not honoured.
* a read or write timeout, or the connection lost after the request was sent, on POST
  -> `VendorTimeoutError` AT ONCE (never retried blindly: the order may have been
  placed; the caller resolves it with `status(key)`). On GET only timeouts do so; other
  transport errors are retried (a lookup is harmless to repeat).
* a 504 on POST (a gateway gave up: the vendor may have placed the order), when no later
  attempt gets a definitive answer -> `VendorTimeoutError`.
* a 2xx answer that is not a well-formed order for the key (or any other status)
  -> `VendorTimeoutError` for 2xx (it may have been placed), `VendorUnavailableError`
  otherwise.

Redirects are not followed. Timeouts are explicit (constructor arguments, applied to
every request whatever the client's defaults). The API key and issued codes never appear
in exception messages or logs: messages carry the key, the HTTP status and at most the
vendor's `reason` (truncated, with the API key removed), never a response body.
The code travels only in the JSON body, never in a header or URL (httpcore logs
response headers and httpx logs URLs, at DEBUG and INFO).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import quote

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity import wait_exponential_jitter as _wait_exponential_jitter

from myapi.providers.rewards.base import (
    ORDER_STATUSES,
    OrderStatus,
    VendorOrder,
    VendorRejectedError,
    VendorTimeoutError,
    VendorUnavailableError,
)

logger = logging.getLogger(__name__)

ORDERS_PATH = "/v1/orders"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REASON_CHARS = 200

# Errors raised before any byte of the request reached the vendor.
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)


class _Retry(Exception):
    """One attempt that may be retried (the request was not accepted)."""

    def __init__(self, what: str, *, maybe_placed: bool = False) -> None:
        super().__init__(what)
        self.what = what
        self.maybe_placed = maybe_placed


class HttpRewardVendor:
    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        api_key: str,
        name: str = "giftvendor",
        retries: int = 3,
        *,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 5.0,
        backoff_jitter_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 1:
            raise ValueError("retries counts attempts: at least 1")
        self.name = name
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.retries = retries  # attempts in all, the first included
        self.timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.backoff_jitter_s = backoff_jitter_s
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"HttpRewardVendor(name={self.name!r}, base_url={self.base_url!r})"

    # -- the interface ---------------------------------------------------------------

    def issue(self, key: str, sku: str, user_ref: str) -> VendorOrder:
        _require_key(key)
        what = f"{self.name} issue {key}"
        response = self._with_retries(
            what,
            lambda: self._send(
                "POST",
                self.base_url + ORDERS_PATH,
                what,
                json={"idempotency_key": key, "sku": sku, "user_ref": user_ref},
                headers={"Idempotency-Key": key},
                mutating=True,
            ),
            mutating=True,
        )
        if response.status_code in (200, 201):
            order = self._order(response, key, what)
            logger.info("%s: %s (HTTP %s)", what, order.status, response.status_code)
            return order
        if 400 <= response.status_code < 500:
            reason = self._reason(response)
            logger.info("%s: rejected, HTTP %s: %s", what, response.status_code, reason)
            raise VendorRejectedError(
                f"{what}: rejected, HTTP {response.status_code}: {reason}",
                reason=reason,
                status_code=response.status_code,
            )
        self._unexpected(response, what)

    def status(self, key: str) -> VendorOrder | None:
        _require_key(key)
        what = f"{self.name} status {key}"
        url = f"{self.base_url}{ORDERS_PATH}/{quote(key, safe='')}"
        response = self._with_retries(
            what, lambda: self._send("GET", url, what, mutating=False), mutating=False
        )
        if response.status_code == 200:
            order = self._order(response, key, what)
            logger.debug("%s: %s", what, order.status)
            return order
        if response.status_code == 404:
            logger.debug("%s: no such order", what)
            return None
        if 400 <= response.status_code < 500:
            raise VendorUnavailableError(
                f"{what}: lookup refused, HTTP {response.status_code}: {self._reason(response)}"
            )
        self._unexpected(response, what)

    # -- transport ---------------------------------------------------------------------

    def _with_retries(
        self, what: str, attempt: Callable[[], httpx.Response], *, mutating: bool
    ) -> httpx.Response:
        retrying = Retrying(
            stop=stop_after_attempt(self.retries),
            wait=_wait_exponential_jitter(
                multiplier=self.backoff_initial_s, max=self.backoff_max_s, jitter=self.backoff_jitter_s
            ),
            retry=retry_if_exception_type(_Retry),
            reraise=True,
            sleep=self.sleep,
            before_sleep=self._log_retry(what),
        )
        maybe_placed = False

        def once() -> httpx.Response:
            nonlocal maybe_placed
            try:
                return attempt()
            except _Retry as exc:
                maybe_placed = maybe_placed or exc.maybe_placed
                raise

        try:
            return retrying(once)
        except _Retry as exc:
            if mutating and maybe_placed:
                raise VendorTimeoutError(
                    f"{what}: outcome unknown (a gateway timed out; last: {exc.what} "
                    f"after {self.retries} attempts): ask status()"
                ) from None
            raise VendorUnavailableError(f"{what}: {exc.what} after {self.retries} attempts") from None

    def _send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        json: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        mutating: bool,
    ) -> httpx.Response:
        all_headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            **(headers or {}),
        }
        try:
            response = self.http.request(
                method, url, json=json, headers=all_headers, timeout=self.timeout, follow_redirects=False
            )
        except _NOT_SENT as exc:
            raise _Retry(f"{type(exc).__name__} (not sent)") from exc
        except httpx.TimeoutException as exc:  # read / write timeout: the request went out
            raise VendorTimeoutError(f"{what}: {type(exc).__name__}, outcome unknown: ask status()") from None
        except httpx.TransportError as exc:  # connection lost after sending
            if mutating:
                raise VendorTimeoutError(
                    f"{what}: {type(exc).__name__} after sending, outcome unknown: ask status()"
                ) from None
            raise _Retry(type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise VendorUnavailableError(f"{what}: {type(exc).__name__}") from None
        logger.debug("%s: %s %s -> HTTP %s", what, method, httpx.URL(url).path, response.status_code)
        if response.status_code in RETRY_STATUSES:
            raise _Retry(f"HTTP {response.status_code}", maybe_placed=response.status_code == 504)
        return response

    def _log_retry(self, what: str) -> Callable[[RetryCallState], None]:
        def log(state: RetryCallState) -> None:
            outcome = state.outcome
            error = outcome.exception() if outcome is not None else None
            wait = state.next_action.sleep if state.next_action is not None else 0.0
            logger.warning(
                "%s: attempt %d/%d failed (%s), retrying in %.2fs",
                what,
                state.attempt_number,
                self.retries,
                error.what if isinstance(error, _Retry) else type(error).__name__,
                wait,
            )

        return log

    # -- answers -----------------------------------------------------------------------

    def _order(self, response: httpx.Response, key: str, what: str) -> VendorOrder:
        unreadable = VendorTimeoutError(
            f"{what}: unreadable answer (HTTP {response.status_code}), outcome unknown: ask status()"
        )
        try:
            body: Any = response.json()
        except ValueError:
            raise unreadable from None
        raw = body.get("order") if isinstance(body, dict) else None
        if not isinstance(raw, dict) or raw.get("key") != key:
            raise unreadable
        status = raw.get("status")
        code = raw.get("code")
        reason = raw.get("reason")
        if status not in ORDER_STATUSES or not (reason is None or isinstance(reason, str)):
            raise unreadable
        if status == "ISSUED" and not (isinstance(code, str) and code):
            raise unreadable
        order_status: OrderStatus = status
        return VendorOrder(
            key=key,
            status=order_status,
            code=code if order_status == "ISSUED" else None,
            reason=self._redact(reason)[:MAX_REASON_CHARS] if reason else None,
        )

    def _reason(self, response: httpx.Response) -> str:
        """The vendor's `error.reason`, truncated and without the API key; never the body."""
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        reason = error.get("reason") if isinstance(error, dict) else None
        if not isinstance(reason, str) or not reason:
            return f"HTTP {response.status_code}"
        return self._redact(reason)[:MAX_REASON_CHARS]

    def _unexpected(self, response: httpx.Response, what: str) -> NoReturn:
        if 200 <= response.status_code < 300:
            raise VendorTimeoutError(
                f"{what}: unexpected HTTP {response.status_code}, outcome unknown: ask status()"
            )
        raise VendorUnavailableError(f"{what}: unexpected HTTP {response.status_code}")

    def _redact(self, text: str) -> str:
        return text.replace(self.api_key, "***") if self.api_key else text


def _require_key(key: str) -> None:
    if not key:
        raise ValueError("an idempotency key is required")
