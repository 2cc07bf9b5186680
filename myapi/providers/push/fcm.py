"""Firebase Cloud Messaging, HTTP v1 API (`FcmSender`), authenticated as a Google
service account (`GoogleAccessTokens`).

Sending one message:

    POST {FCM_BASE_URL}/v1/projects/{project_id}/messages:send
    Authorization: Bearer <OAuth 2.0 access token>
    {"message": {"token": "<device token>",
                 "notification": {"title": "...", "body": "..."},
                 "data": {"<key>": "<string value>", ...}}}

    200 {"name": "projects/<id>/messages/<message id>"}                   -> SENT
    404 {"error": {"status": "NOT_FOUND",
                   "details": [{"@type": ".../google.firebase.fcm.v1.FcmError",
                                "errorCode": "UNREGISTERED"}]}}            -> INVALID_TOKEN
    400 INVALID_ARGUMENT naming the token (a field violation on `message.token`, or
        "registration token" in the message)                              -> INVALID_TOKEN
    403 SENDER_ID_MISMATCH (the token belongs to another Firebase project) -> INVALID_TOKEN
    400 about anything else (our payload)                                 -> REJECTED
    401 (the access token was refused: it is dropped and fetched again),
    403 other (permissions), 404 other (e.g. a wrong project id),
    429 QUOTA_EXCEEDED, 5xx, timeouts and transport errors                -> retried

Retries: up to `attempts` tries in all per send, waiting `backoff_base_s * 2**(n-1)`
(at most `backoff_max_s`) between them, or the provider's `Retry-After` when it gives
one. A `Retry-After` longer than `backoff_max_s`, or the last try failing, ends the send
with RETRY (and the Retry-After): the delivery is left for a later pass.

The access token comes from the service-account flow (RFC 7523, the JWT bearer grant):
an RS256 JWT assertion `{iss: client_email, scope, aud: token_uri, iat, exp: iat+3600}`
with `kid` = the key id, signed with the account's private key, is POSTed to the
account's `token_uri` as `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&
assertion=<jwt>`; the answer `{access_token, expires_in}` is cached (one per process)
until REFRESH_MARGIN_S before it expires. Times come from the injected clock.

Neither device tokens nor credentials appear in exception messages or logs (a token is
logged as its last characters only).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from jose import jwk, jwt
from jose.exceptions import JOSEError

from myapi.core.clock import Clock
from myapi.providers.push.base import PushOutcome, PushResult, token_hint

logger = logging.getLogger(__name__)

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_S = 3600  # Google accepts assertions valid for at most an hour
REFRESH_MARGIN_S = 300  # a cached access token is renewed this long before it expires
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_DETAIL_CHARS = 200
SERVICE_ACCOUNT_FIELDS = ("project_id", "private_key_id", "private_key", "client_email", "token_uri")


class ServiceAccountError(ValueError):
    """The service-account JSON is unusable (names the field, never shows the key)."""


@dataclass(frozen=True, repr=False)
class ServiceAccount:
    """The fields of a Google service-account key file that the flow needs."""

    project_id: str
    private_key_id: str
    private_key: str  # PEM; a secret
    client_email: str
    token_uri: str

    def __repr__(self) -> str:
        return f"ServiceAccount(client_email={self.client_email!r}, project_id={self.project_id!r})"

    @classmethod
    def from_json(cls, raw: str) -> ServiceAccount:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ServiceAccountError("FCM_SERVICE_ACCOUNT_JSON is not JSON") from exc
        if not isinstance(data, dict):
            raise ServiceAccountError("FCM_SERVICE_ACCOUNT_JSON is not a JSON object")
        missing = [f for f in SERVICE_ACCOUNT_FIELDS if not isinstance(data.get(f), str) or not data[f]]
        if missing:
            raise ServiceAccountError("FCM_SERVICE_ACCOUNT_JSON lacks " + ", ".join(missing))
        if data.get("type", "service_account") != "service_account":
            raise ServiceAccountError("FCM_SERVICE_ACCOUNT_JSON is not a service account key")
        return cls(**{f: str(data[f]) for f in SERVICE_ACCOUNT_FIELDS})


class AccessTokenError(Exception):
    """No access token now. `refused`: the token endpoint said no (bad key, unknown
    account, clock skew) — an operator must look; otherwise it was unreachable."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class GoogleAccessTokens:
    """OAuth 2.0 access tokens for a service account, cached until shortly before they
    expire. Thread-safe: concurrent senders share one token and one refresh."""

    def __init__(
        self,
        http: httpx.Client,
        account: ServiceAccount,
        clock: Clock,
        *,
        timeout_s: float,
        scope: str = FCM_SCOPE,
    ) -> None:
        self._http = http
        self._account = account
        self._clock = clock
        self._timeout = httpx.Timeout(timeout_s)
        self._scope = scope
        try:
            self._key = jwk.construct(account.private_key, "RS256")  # parsed once
        except (JOSEError, ValueError) as exc:
            raise ServiceAccountError("FCM_SERVICE_ACCOUNT_JSON private_key is not an RSA key") from exc
        self._lock = threading.Lock()
        self._cached: tuple[str, datetime] | None = None  # (token, renew at)

    def token(self) -> str:
        with self._lock:
            now = self._clock.now()
            if self._cached is not None and now < self._cached[1]:
                return self._cached[0]
            token, expires_in = self._fetch(now)
            margin = min(REFRESH_MARGIN_S, expires_in // 2)
            self._cached = (token, now + timedelta(seconds=expires_in - margin))
            return token

    def invalidate(self, token: str) -> None:
        """Forget `token` (the API refused it); the next call fetches a new one."""
        with self._lock:
            if self._cached is not None and self._cached[0] == token:
                self._cached = None

    def assertion(self, now: datetime) -> str:
        """The signed JWT that the token endpoint exchanges for an access token."""
        issued = int(now.timestamp())
        claims = {
            "iss": self._account.client_email,
            "scope": self._scope,
            "aud": self._account.token_uri,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME_S,
        }
        headers = {"kid": self._account.private_key_id, "typ": "JWT"}
        return str(jwt.encode(claims, self._key, algorithm="RS256", headers=headers))

    def _fetch(self, now: datetime) -> tuple[str, int]:
        form = {"grant_type": JWT_BEARER_GRANT, "assertion": self.assertion(now)}
        try:
            r = self._http.post(self._account.token_uri, data=form, timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise AccessTokenError("token endpoint timed out") from exc
        except httpx.TransportError as exc:
            raise AccessTokenError(f"token endpoint unreachable ({type(exc).__name__})") from exc
        if r.status_code != 200:
            answer = _json(r)
            said = _short(f"{answer.get('error', '')} {answer.get('error_description', '')}".strip())
            refused = 400 <= r.status_code < 500 and r.status_code != 429
            raise AccessTokenError(
                f"token endpoint answered HTTP {r.status_code} {said}".strip(), refused=refused
            )
        answer = _json(r)
        token, expires_in = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
            raise AccessTokenError("token endpoint answered 200 without a usable access token")
        logger.info("fcm: new access token for %s (expires in %s s)", self._account.client_email, expires_in)
        return token, expires_in


class FcmSender:
    name = "fcm"

    def __init__(
        self,
        http: httpx.Client,
        tokens: GoogleAccessTokens,
        clock: Clock,
        *,
        base_url: str,
        project_id: str,
        timeout_s: float,
        attempts: int = 3,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 4.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts counts tries in all: at least 1")
        self._http = http
        self._tokens = tokens
        self._clock = clock
        self.url = f"{base_url.rstrip('/')}/v1/projects/{project_id}/messages:send"
        self._timeout_s = timeout_s
        self._timeout = httpx.Timeout(timeout_s)
        self.attempts = attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"FcmSender(url={self.url!r})"

    @property
    def max_send_s(self) -> float:
        # Each try may fetch an access token and then send (a timeout each), with the
        # waits between tries, and a margin.
        return self.attempts * 2 * self._timeout_s + (self.attempts - 1) * self.backoff_max_s + 5.0

    def send(self, token: str, title: str, body: str, data: Mapping[str, str]) -> PushOutcome:
        message = {
            "message": {
                "token": token,
                "notification": {"title": title, "body": body},
                "data": {str(k): str(v) for k, v in data.items()},
            }
        }
        outcome = PushOutcome.retry("not tried")
        for attempt in range(1, self.attempts + 1):
            outcome = self._try(message)
            if outcome.result is not PushResult.RETRY:
                break
            wait = outcome.retry_after_s if outcome.retry_after_s is not None else self._backoff(attempt)
            if attempt == self.attempts or wait > self.backoff_max_s:
                break  # left for a later pass
            self.sleep(wait)
        logger.info(
            "fcm send to device %s: %s %s", token_hint(token), outcome.result, outcome.detail,
            extra={"push_result": str(outcome.result)},
        )  # fmt: skip
        return outcome

    def _backoff(self, attempt: int) -> float:
        return float(min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1)))

    def _try(self, message: dict[str, Any]) -> PushOutcome:
        try:
            access = self._tokens.token()
        except AccessTokenError as exc:
            if exc.refused:
                logger.error("fcm: the service account was refused an access token: %s", exc)
            return PushOutcome.retry(f"access token: {exc}")
        try:
            r = self._http.post(
                self.url, json=message, headers={"Authorization": f"Bearer {access}"}, timeout=self._timeout
            )
        except httpx.TimeoutException:
            return PushOutcome.retry("timeout")
        except httpx.TransportError as exc:
            return PushOutcome.retry(f"transport error ({type(exc).__name__})")
        return self._classify(r, access)

    def _classify(self, r: httpx.Response, access: str) -> PushOutcome:
        status = r.status_code
        if status == 200:
            return PushOutcome.sent(_short(str(_json(r).get("name", ""))))
        error = _json(r).get("error")
        error = error if isinstance(error, dict) else {}
        codes = _error_codes(error)
        said = _short(f"HTTP {status} {error.get('status', '')} {' '.join(sorted(codes))}".strip())
        if status == 401:
            self._tokens.invalidate(access)
            return PushOutcome.retry(said + " (access token refused)")
        if status == 404 and "UNREGISTERED" in codes:
            return PushOutcome.invalid_token(said)
        if status == 403 and "SENDER_ID_MISMATCH" in codes:
            return PushOutcome.invalid_token(said)
        if status == 400:
            if _names_the_token(error):
                return PushOutcome.invalid_token(said)
            return PushOutcome.rejected(said + " " + _short(str(error.get("message", ""))))
        if status in RETRY_STATUSES or status >= 500 or status in (403, 404):
            return PushOutcome.retry(said, self._retry_after(r))
        return PushOutcome.rejected(said)

    def _retry_after(self, r: httpx.Response) -> float | None:
        raw = r.headers.get("Retry-After")
        if not raw:
            return None
        raw = raw.strip()
        if raw.isdigit():
            return float(raw)
        try:
            at = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if at.tzinfo is None:
            return None
        return max(0.0, (at - self._clock.now()).total_seconds())


def _json(r: httpx.Response) -> dict[str, Any]:
    try:
        data = r.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error_codes(error: dict[str, Any]) -> set[str]:
    """The FCM error codes of an error body (`details[].errorCode`, and its `status`)."""
    codes = {str(error["status"])} if isinstance(error.get("status"), str) else set()
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and isinstance(detail.get("errorCode"), str):
            codes.add(detail["errorCode"])
    return codes


def _names_the_token(error: dict[str, Any]) -> bool:
    """A 400 about the device token itself (not our payload)."""
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        for violation in detail.get("fieldViolations") or []:
            if isinstance(violation, dict) and violation.get("field") == "message.token":
                return True
    return "registration token" in str(error.get("message", "")).lower()


def _short(text: str) -> str:
    return text[:MAX_DETAIL_CHARS]
