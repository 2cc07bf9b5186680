"""A local Firebase Cloud Messaging: Google's OAuth token endpoint for service accounts
and the FCM HTTP v1 `messages:send`, over loopback HTTP, with scripted misbehaviour per
device token — and the wiring that points a container's push sender at it (the real
`build_push_sender` / `FcmSender` / `GoogleAccessTokens`).

* `POST /token` (the service account's `token_uri`): form `grant_type` =
  JWT_BEARER_GRANT and `assertion` = an RS256 JWT, VERIFIED with the public half of the
  test key (`kid` = the key id, `iss` = the client email, `aud` = this token_uri, the
  FCM scope, at most an hour between `iat` and `exp`). Answers
  `{access_token, expires_in, token_type}`; anything else is 400 `invalid_grant`.
* `POST /v1/projects/{PROJECT_ID}/messages:send`: `Authorization: Bearer <a token this
  fake issued>` (else 401 UNAUTHENTICATED), a body shaped as FCM's (`message.token`,
  `message.notification.{title,body}`, `message.data` of strings; else 400
  INVALID_ARGUMENT about the payload). Then the token's script, else 200.

Scripts: `script(token, *answers)` queues answers for a token's next sends (then 200):
`unavailable()` (503), `rate_limited(retry_after)` (429 with Retry-After),
`unregistered()` (404 UNREGISTERED), `bad_token()` (400 INVALID_ARGUMENT on
message.token). `always[token] = answer` answers every send for the token so.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

import pytest
from dependency_injector import providers
from jose import jwt
from jose.exceptions import JOSEError

from myapi.auth.keys import generate_private_pem
from myapi.container import Container
from myapi.core.config import Settings
from myapi.providers.push import (
    FCM_SCOPE,
    JWT_BEARER_GRANT,
    FcmSender,
    build_push_sender,
    make_push_http_client,
)
from tests.support.http_server import LoopbackFake, LoopbackServer, running

PROJECT_ID = "ox-universe-test"
CLIENT_EMAIL = "push-sender@ox-universe-test.iam.gserviceaccount.com"
KEY_ID = "test-fcm-key-1"
TOKEN_PATH = "/token"
SEND_PATH = f"/v1/projects/{PROJECT_ID}/messages:send"
ACCESS_TOKEN_TTL_S = 3600
# The service account's key pair (generated once per run): the fake verifies assertions
# with its public half.
PRIVATE_PEM = generate_private_pem()


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _fcm_error(status: int, rpc_status: str, message: str, *details: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": rpc_status, "details": list(details)}}


def _fcm_code(code: str) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}


def unavailable() -> Answer:
    return Answer(
        503, _fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.", _fcm_code("UNAVAILABLE"))
    )


def rate_limited(retry_after_s: int) -> Answer:
    body = _fcm_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", _fcm_code("QUOTA_EXCEEDED"))
    return Answer(429, body, {"Retry-After": str(retry_after_s)})


def unregistered() -> Answer:
    return Answer(
        404, _fcm_error(404, "NOT_FOUND", "Requested entity was not found.", _fcm_code("UNREGISTERED"))
    )


def bad_token() -> Answer:
    violation = {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{"field": "message.token", "description": "Invalid registration token"}],
    }
    message = "The registration token is not a valid FCM registration token"
    return Answer(400, _fcm_error(400, "INVALID_ARGUMENT", message, _fcm_code("INVALID_ARGUMENT"), violation))


@dataclass
class Sent:
    """A message the fake accepted (200)."""

    token: str
    title: str
    body: str
    data: dict[str, str]
    authorization: str


@dataclass
class FakeFcm(LoopbackFake):
    token_requests: list[dict[str, Any]] = field(default_factory=list)  # verified claims, or the error
    send_requests: list[dict[str, Any]] = field(default_factory=list)  # every messages:send body
    sent: list[Sent] = field(default_factory=list)
    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    always: dict[str, Answer] = field(default_factory=dict)
    issued: set[str] = field(default_factory=set)
    send_delay_s: float = 0.0  # each send answers after this long (concurrency tests)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.token_requests.clear()
            self.send_requests.clear()
            self.sent.clear()
            self.scripts.clear()
            self.always.clear()
            self.issued.clear()
            self.send_delay_s = 0.0

    # --- what a test reads and scripts ----------------------------------------------------
    @property
    def token_uri(self) -> str:
        return self.base_url + TOKEN_PATH

    def service_account_json(self, private_pem: str = PRIVATE_PEM) -> str:
        return json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT_ID,
                "private_key_id": KEY_ID,
                "private_key": private_pem,
                "client_email": CLIENT_EMAIL,
                "client_id": "1234567890",
                "token_uri": self.token_uri,
            }
        )

    def script(self, token: str, *answers: Answer) -> None:
        with self.lock:
            self.scripts.setdefault(token, []).extend(answers)

    def sent_to(self, token: str) -> list[Sent]:
        with self.lock:
            return [s for s in self.sent if s.token == token]

    def attempts_to(self, token: str) -> int:
        """messages:send requests for `token`, whatever the answer."""
        with self.lock:
            return sum(1 for r in self.send_requests if r.get("message", {}).get("token") == token)

    @property
    def tokens_issued(self) -> int:
        with self.lock:
            return sum(1 for r in self.token_requests if "error" not in r)

    # --- the endpoints ---------------------------------------------------------------------
    def _token(self, form: dict[str, list[str]]) -> Answer:
        def refuse(why: str) -> Answer:
            self.token_requests.append({"error": why})
            return Answer(400, {"error": "invalid_grant", "error_description": why})

        if form.get("grant_type") != [JWT_BEARER_GRANT]:
            return refuse("unsupported grant_type")
        [assertion] = form.get("assertion", [""])
        try:
            header = jwt.get_unverified_header(assertion)
            public_pem = _public_pem(PRIVATE_PEM)
            # The fake checks the claims itself (against the assertion, not a wall clock:
            # the tests' clock is frozen elsewhere in time).
            claims = jwt.decode(
                assertion,
                public_pem,
                algorithms=["RS256"],
                audience=self.token_uri,
                issuer=CLIENT_EMAIL,
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except JOSEError as exc:
            return refuse(f"invalid JWT signature or claims: {type(exc).__name__}")
        if header.get("kid") != KEY_ID or header.get("alg") != "RS256":
            return refuse("unknown key id or algorithm")
        if claims.get("scope") != FCM_SCOPE:
            return refuse("wrong scope")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or not 0 < exp - iat <= 3600:
            return refuse("bad iat/exp")
        access = f"ya29.fake-{sum(1 for r in self.token_requests if 'error' not in r) + 1}"
        self.issued.add(access)
        self.token_requests.append(claims)
        return Answer(200, {"access_token": access, "expires_in": ACCESS_TOKEN_TTL_S, "token_type": "Bearer"})

    def _send(self, headers: dict[str, str], body: Any) -> Answer:
        authorization = headers.get("authorization", "")
        if authorization.removeprefix("Bearer ") not in self.issued:
            return Answer(
                401, _fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
            )
        message = body.get("message") if isinstance(body, dict) else None
        notification = message.get("notification") if isinstance(message, dict) else None
        data = message.get("data", {}) if isinstance(message, dict) else None
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("token"), str)
            or not isinstance(notification, dict)
            or not all(isinstance(notification.get(k), str) for k in ("title", "body"))
            or not isinstance(data, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items())
        ):
            return Answer(400, _fcm_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received."))
        token = message["token"]
        queued = self.scripts.get(token)
        if queued:
            return queued.pop(0)
        if token in self.always:
            return self.always[token]
        self.sent.append(Sent(token, notification["title"], notification["body"], dict(data), authorization))
        return Answer(200, {"name": f"projects/{PROJECT_ID}/messages/{len(self.sent)}"})

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                if self.path == TOKEN_PATH:
                    form = parse_qs(raw.decode(), keep_blank_values=True)
                    with fake.lock:
                        answer = fake._token(form)
                elif self.path == SEND_PATH:
                    try:
                        body = json.loads(raw) if raw else None
                    except ValueError:
                        body = raw.decode(errors="replace")
                    with fake.lock:  # recorded on arrival, before any delay
                        fake.send_requests.append(body if isinstance(body, dict) else {"raw": body})
                    if fake.send_delay_s:
                        time.sleep(fake.send_delay_s)
                    with fake.lock:
                        answer = fake._send(headers, body)
                else:
                    answer = Answer(
                        404, {"error": {"code": 404, "message": "no such route", "status": "NOT_FOUND"}}
                    )
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    data = json.dumps(answer.body).encode()
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = LoopbackServer(Handler)


def _public_pem(private_pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def fake_fcm_settings(base: Settings, fake: FakeFcm, **overrides: object) -> Settings:
    """`base` with PUSH_PROVIDER=fcm at `fake`: the test service account, short timeouts,
    small back-offs."""
    values: dict[str, object] = {
        "push_provider": "fcm",
        "fcm_service_account_json": fake.service_account_json(),
        "fcm_base_url": fake.base_url,
        "fcm_timeout_s": 2.0,
        "fcm_max_attempts": 3,
        "fcm_backoff_base_s": 0.25,
        "fcm_backoff_max_s": 2.0,
        **overrides,
    }
    return base.model_copy(update=values)


def wire_fake_fcm(container: Container, settings: Settings, sleep: Callable[[float], None]) -> FcmSender:
    """Make `container` run on `settings` with the push sender production builds from
    them (build_push_sender over make_push_http_client), its back-off waits handed to
    `sleep` instead of slept. Call before the container built anything that reads its
    settings; close `container.push_http()` afterwards."""
    container.settings.override(providers.Object(settings))
    http = make_push_http_client(settings)
    sender = build_push_sender(settings, http, container.clock())
    assert isinstance(sender, FcmSender)
    sender.sleep = sleep
    container.push_http.override(providers.Object(http))
    container.push_sender.override(providers.Object(sender))
    return sender


@pytest.fixture(scope="session")
def fake_fcm_server() -> Iterator[FakeFcm]:
    with running(FakeFcm()) as server:
        yield server


@pytest.fixture
def fcm(fake_fcm_server: FakeFcm) -> FakeFcm:
    fake_fcm_server.reset()
    return fake_fcm_server


# Fixture names for tests/push/conftest.py.
__all__ = ["fake_fcm_server", "fcm"]
