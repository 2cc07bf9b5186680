"""Issue 15, Build items 3 and 6: the request-body limit (413 `SYS_413` before anything
parses a body; nothing written), the security headers on every answer (pages keep
their own CSP and caching, token answers are never stored), no server banner where the
API is started, and in production the API docs off and /metrics behind a token.

The chunked cases run over real sockets against uvicorn (tests/support/live_server.py):
a real HTTP client (httpx), and a raw socket that sends a chunked body past the limit
and never finishes it, which only a server that stops reading at the limit answers."""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from myapi.apidocs.assets import REDOC_POLICY, SWAGGER_POLICY
from myapi.apidocs.router import BUNDLE as DOCS_BUNDLE
from myapi.core.clock import FrozenClock
from myapi.core.config import ConfigurationError, Settings
from myapi.core.security_headers import JSON_CONTENT_SECURITY_POLICY
from myapi.core.webassets import ASSET_CACHE_CONTROL, CONTENT_SECURITY_POLICY, INDEX_CACHE_CONTROL
from myapi.main import create_app
from myapi.playerui.router import BUNDLE as PLAYER_BUNDLE
from scripts import devstack
from scripts.devstack import ROOT
from tests.support import routes
from tests.support.app import TEST_SIGNING_KID, TEST_SIGNING_PEM, make_settings
from tests.support.db import count
from tests.support.fake_oauth import FakeOAuthServer, google_user
from tests.support.http import bearer, dev_login, error_code, internal
from tests.support.http_server import running
from tests.support.live_server import LiveServer
from tests.support.production import PRODUCTION_OK

LIMIT = 65_536  # MAX_REQUEST_BODY_BYTES' default
VENDOR_LIMIT = 1_048_576  # MAX_VENDOR_WEBHOOK_BODY_BYTES' default
VENDOR_PATH = "/internal/vendor/eod-event"
SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _production(settings: Settings, **overrides: object) -> Settings:
    return _settings(
        **{
            **PRODUCTION_OK,
            "database_url": settings.database_url,
            "sqs_endpoint_url": settings.sqs_endpoint_url,
            **overrides,
        }
    )


@pytest.fixture
def serve() -> Iterator[Any]:
    """`serve(settings)`: a TestClient of an app built from `settings` (closed after)."""
    clients: list[TestClient] = []

    def make(settings: Settings) -> TestClient:
        c = TestClient(create_app(settings), raise_server_exceptions=False)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def _padded(body: dict[str, Any], size: int) -> bytes:
    """`body` as JSON followed by spaces up to exactly `size` bytes (still valid JSON)."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def _chunks(raw: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


def _ledger_rows(db: Session, user_id: int) -> int:
    return count(db, "SELECT count(*) FROM crypto.points_ledger WHERE user_id = :u", u=user_id)


def _audit_rows(db: Session) -> int:
    return count(db, "SELECT count(*) FROM crypto.audit_log")


def _assert_413(r: httpx.Response, limit: int = LIMIT) -> None:
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["success"] is False and body["data"] is None
    assert body["error"]["code"] == "SYS_413"
    assert body["error"]["details"] == {"max_bytes": limit}
    assert body["meta"]["request_id"] == r.headers["x-request-id"]
    assert r.headers["connection"] == "close"


# --- the body limit: Content-Length ------------------------------------------------


def test_a_content_length_over_the_limit_is_413_and_writes_nothing(client: TestClient, db: Session) -> None:
    admin = bearer(dev_login(client, "limit.admin@example.com", role="ADMIN")["access_token"])
    player = dev_login(client, "limit.player@example.com")["user"]["id"]
    url = f"/admin/users/{player}/adjust-points"
    ledger, audit = _ledger_rows(db, player), _audit_rows(db)
    credit = {"delta": 5, "reason": "body limit check"}

    too_big = client.post(
        url, content=_padded(credit, LIMIT + 1), headers={**admin, "Content-Type": "application/json"}
    )
    _assert_413(too_big)
    assert (_ledger_rows(db, player), _audit_rows(db)) == (ledger, audit)

    # Exactly at the limit the body is read, parsed and acted on.
    at_limit = client.post(
        url, content=_padded(credit, LIMIT), headers={**admin, "Content-Type": "application/json"}
    )
    assert at_limit.status_code == 200, at_limit.text
    assert _ledger_rows(db, player) == ledger + 1


def test_the_limit_is_checked_before_authentication_and_parsing(client: TestClient) -> None:
    """No token and a body that is not even JSON: the size alone answers, before the
    guard (401) or the parser (422) could."""
    r = client.post(
        "/v1/predictions/AAPL", content=b"\0" * (LIMIT + 1), headers={"Content-Type": "application/json"}
    )
    _assert_413(r)
    small = client.post(
        "/v1/predictions/AAPL", content=b"\0" * 10, headers={"Content-Type": "application/json"}
    )
    # The same request under the limit gets the parser's or the guard's answer.
    assert small.status_code in (400, 401, 422)


def test_a_413_carries_the_cors_and_security_headers(client: TestClient) -> None:
    origin = "http://localhost:3000"
    r = client.post("/v1/auth/token/refresh", content=b"x" * (LIMIT + 1), headers={"Origin": origin})
    _assert_413(r)
    assert r.headers["access-control-allow-origin"] == origin
    for name, value in SECURITY.items():
        assert r.headers[name] == value


def _vendor_post(client: TestClient, settings: Settings, clock: FrozenClock, raw: bytes) -> httpx.Response:
    timestamp = int(clock.now().timestamp())
    signature = hmac.new(
        settings.vendor_webhook_secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256
    ).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Vendor-Timestamp": str(timestamp),
        "X-Vendor-Signature": signature,
    }
    response: httpx.Response = client.post(VENDOR_PATH, content=raw, headers=headers)
    return response


def test_the_vendor_webhook_has_a_larger_limit_of_its_own(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings
) -> None:
    """An EOD event carries up to 5000 prices: a signed 200 KiB event is read and stored;
    past MAX_VENDOR_WEBHOOK_BODY_BYTES it is 413 too, and nothing is stored."""
    event = {"asof": "2026-11-23", "vendor_rev": 1, "prices": [{"symbol": "AAPL", "close": "99.5"}]}
    prices = "SELECT count(*) FROM crypto.eod_prices WHERE symbol = 'AAPL' AND asof = '2026-11-23'"
    before = count(db, prices)
    _assert_413(_vendor_post(client, settings, clock, _padded(event, VENDOR_LIMIT + 1)), VENDOR_LIMIT)
    assert count(db, prices) == before
    r = _vendor_post(client, settings, clock, _padded(event, 200 * 1024))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["details"]["stored"] == 1
    assert count(db, prices) == before + 1


def test_the_limits_are_settings(serve: Any, settings: Settings) -> None:
    small = make_settings(settings.database_url, settings.sqs_endpoint_url or "", max_request_body_bytes=2048)
    c = serve(small)
    _assert_413(c.post("/v1/auth/token/refresh", content=b"x" * 2049), 2048)
    r = c.post("/v1/auth/token/refresh", json={"refresh_token": "x" * 100})
    assert r.status_code == 401 and error_code(r) == "AUTH_002"
    with pytest.raises(ValueError, match="max_request_body_bytes"):
        make_settings(settings.database_url, settings.sqs_endpoint_url or "", max_request_body_bytes=10)


# --- the body limit: unknown length (chunked) -----------------------------------------


def test_a_chunked_body_over_the_limit_is_413_through_the_test_client(
    client: TestClient, db: Session
) -> None:
    admin = bearer(dev_login(client, "chunk.admin@example.com", role="ADMIN")["access_token"])
    player = dev_login(client, "chunk.player@example.com")["user"]["id"]
    url = f"/admin/users/{player}/adjust-points"
    ledger = _ledger_rows(db, player)
    credit = {"delta": 7, "reason": "chunked limit check"}
    headers = {**admin, "Content-Type": "application/json"}
    _assert_413(client.post(url, content=_chunks(_padded(credit, LIMIT + 1)), headers=headers))
    assert _ledger_rows(db, player) == ledger
    ok = client.post(url, content=_chunks(_padded(credit, LIMIT)), headers=headers)
    assert ok.status_code == 200, ok.text
    assert _ledger_rows(db, player) == ledger + 1


@pytest.fixture
def live(live_app: FastAPI) -> Iterator[LiveServer]:
    with LiveServer(live_app) as server:
        yield server


def _live_ledger_rows(engine: Engine, user_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM crypto.points_ledger WHERE user_id = :u"), {"u": user_id}
            ).scalar_one()
        )


def _live_login(http: httpx.Client, email: str, role: str | None = None) -> dict[str, Any]:
    r = http.post("/v1/auth/dev-login", json={"email": email, **({"role": role} if role else {})})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def test_a_chunked_body_over_the_limit_is_413_on_a_live_server(live: LiveServer, live_engine: Engine) -> None:
    """httpx streams the body chunked (no Content-Length) to uvicorn: one byte past the
    limit is 413 and nothing is written; a body of exactly the limit is read whole and
    acted on (committed)."""
    with httpx.Client(base_url=live.url, timeout=30) as http:
        admin = bearer(_live_login(http, "live.admin@example.com", "ADMIN")["access_token"])
        player = _live_login(http, "live.player@example.com")["user"]["id"]
        url = f"/admin/users/{player}/adjust-points"
        headers = {**admin, "Content-Type": "application/json"}
        credit = {"delta": 9, "reason": "live chunked limit check"}
        ledger = _live_ledger_rows(live_engine, player)

        sent: list[int] = []

        def body(raw: bytes) -> Iterator[bytes]:
            for chunk in _chunks(raw):
                sent.append(len(chunk))
                yield chunk

        r = http.post(url, content=body(_padded(credit, LIMIT + 1)), headers=headers)
        assert (
            "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
        )
        _assert_413(r)
        assert _live_ledger_rows(live_engine, player) == ledger

        ok = http.post(url, content=body(_padded(credit, LIMIT)), headers=headers)
        assert ok.status_code == 200, ok.text
        assert _live_ledger_rows(live_engine, player) == ledger + 1


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read until the server closes; the status, the headers and the body."""
    data = b""
    while True:
        part = sock.recv(65_536)
        if not part:
            break
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def test_the_server_stops_reading_a_chunked_body_at_the_limit(live: LiveServer) -> None:
    """A chunked body that passes the limit and never ends (no last chunk): the answer
    is 413 at once and the server closes the connection. Waiting for the body's end
    would never answer (the socket's timeout would fail the test)."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/predictions/AAPL HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b" " * (LIMIT + 1)
        sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        status, headers, body = _read_response(sock)
    assert status == 413
    assert headers["connection"] == "close"
    assert json.loads(body)["error"]["code"] == "SYS_413"


def test_a_content_length_over_the_limit_is_refused_before_the_body_is_sent(live: LiveServer) -> None:
    """The headers alone answer: the client sends a Content-Length over the limit and
    not one byte of the body, and the 413 comes back."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/predictions/AAPL HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (100 * 1024 * 1024)
        )
        status, headers, body = _read_response(sock)
    assert status == 413 and headers["connection"] == "close"
    assert json.loads(body)["error"]["details"] == {"max_bytes": LIMIT}


# --- security headers --------------------------------------------------------------


def _assert_api_headers(r: httpx.Response) -> None:
    for name, value in SECURITY.items():
        assert r.headers.get_list(name) == [value], (r.request.url, name)
    assert r.headers.get_list("content-security-policy") == [JSON_CONTENT_SECURITY_POLICY], r.request.url
    assert r.headers.get_list("cache-control") == ["no-store"], r.request.url
    assert "strict-transport-security" not in r.headers


def test_every_api_answer_carries_the_security_headers_and_no_store(client: TestClient) -> None:
    client.app.include_router(routes.router)  # type: ignore[attr-defined]
    player = bearer(dev_login(client, "headers.player@example.com")["access_token"])
    admin = bearer(dev_login(client, "headers.admin@example.com", role="ADMIN")["access_token"])
    answers = {
        "health": client.get("/health"),
        "metrics": client.get("/metrics"),
        "public /v1": client.get("/v1/session/today"),
        "personal /v1": client.get("/v1/users/me", headers=player),
        "admin": client.get("/admin/dashboard", headers=admin),
        "401": client.get("/v1/users/me"),
        "404": client.get("/nothing/here"),
        "422": client.post("/test/echo", json={"name": ""}),
        "500": client.get("/test/boom"),
    }
    assert answers["personal /v1"].status_code == 200 and answers["admin"].status_code == 200
    assert answers["500"].status_code == 500
    for r in answers.values():
        _assert_api_headers(r)


def test_a_cors_preflight_carries_the_security_headers(client: TestClient) -> None:
    r = client.options(
        "/v1/users/me",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
    )
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://localhost:3000"
    _assert_api_headers(r)


def test_pages_keep_their_own_csp_and_caching(client: TestClient) -> None:
    """The player page, the console and the docs set their CSP and cache headers
    themselves: kept as they are (one of each), the ETag revalidation included."""
    pages = {
        "/": CONTENT_SECURITY_POLICY,
        "/admin/ui/": CONTENT_SECURITY_POLICY,
        "/docs": SWAGGER_POLICY,
        "/redoc": REDOC_POLICY,
    }
    for path, policy in pages.items():
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers.get_list("content-security-policy") == [policy], path
        assert r.headers.get_list("cache-control") == [INDEX_CACHE_CONTROL], path
        for name, value in SECURITY.items():
            assert r.headers.get_list(name) == [value], (path, name)
        again = client.get(path, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304, path
        assert again.headers.get_list("cache-control") == [INDEX_CACHE_CONTROL], path
        assert again.headers["etag"] == r.headers["etag"]
    name = next(iter(PLAYER_BUNDLE.assets))
    for url in (f"/assets/{PLAYER_BUNDLE.build}/{name}", f"/docs/assets/{DOCS_BUNDLE.build}/swagger-ui.css"):
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers.get_list("cache-control") == [ASSET_CACHE_CONTROL], url
        assert client.get(url, headers={"If-None-Match": asset.headers["etag"]}).status_code == 304


def _assert_not_stored(r: httpx.Response) -> None:
    assert r.headers.get_list("cache-control") == ["no-store"], r.request.url
    assert r.headers["pragma"] == "no-cache", r.request.url


def test_token_answers_are_never_stored(client: TestClient) -> None:
    login = client.post("/v1/auth/dev-login", json={"email": "tokens.player@example.com"})
    assert login.status_code == 200
    _assert_not_stored(login)
    refreshed = client.post(
        "/v1/auth/token/refresh", json={"refresh_token": login.json()["data"]["refresh_token"]}
    )
    assert refreshed.status_code == 200 and "access_token" in refreshed.json()["data"]
    _assert_not_stored(refreshed)
    refused = client.post("/v1/auth/token/refresh", json={"refresh_token": "not-a-token"})
    assert refused.status_code == 401
    _assert_not_stored(refused)


def test_oauth_callbacks_with_tokens_are_never_stored(serve: Any, settings: Settings) -> None:
    redirect = "https://app.example/auth/callback"
    browser_redirect = "http://testserver/v1/auth/oauth/google/callback"
    with running(FakeOAuthServer()) as fake:
        oauth = make_settings(
            settings.database_url,
            settings.sqs_endpoint_url or "",
            oauth_redirect_allowlist=[redirect, browser_redirect],
            **fake.endpoints("google"),
        )
        c = serve(oauth)

        def start(uri: str) -> dict[str, str]:
            r = c.get("/v1/auth/oauth/google/authorize", params={"redirect_uri": uri}, follow_redirects=False)
            assert r.status_code == 302
            _assert_not_stored(r)
            query = httpx.URL(r.headers["location"]).params
            return {"state": query["state"], "challenge": query["code_challenge"]}

        flow = start(redirect)
        code = fake.issue_code(
            "google", flow["challenge"], redirect, google_user("h-1", "hdr1@example.com", "Hdr")
        )
        app_callback = c.post(
            "/v1/auth/oauth/callback",
            json={"provider": "google", "code": code, "state": flow["state"], "redirect_uri": redirect},
        )
        assert app_callback.status_code == 200, app_callback.text
        _assert_not_stored(app_callback)

        flow = start(browser_redirect)
        code = fake.issue_code(
            "google", flow["challenge"], browser_redirect, google_user("h-2", "hdr2@example.com", "Hdr2")
        )
        browser_callback = c.get(
            "/v1/auth/oauth/google/callback", params={"code": code, "state": flow["state"]}
        )
        assert browser_callback.status_code == 200, browser_callback.text
        assert "access_token" in browser_callback.json()["data"]
        _assert_not_stored(browser_callback)


def test_hsts_is_sent_in_production_only(serve: Any, settings: Settings) -> None:
    prod = serve(_production(settings))
    assert prod.get("/health").headers["strict-transport-security"] == "max-age=31536000"
    assert prod.get("/").headers["strict-transport-security"] == "max-age=31536000"
    off = serve(_production(settings, hsts_max_age_s=0))
    assert "strict-transport-security" not in off.get("/health").headers
    # A development server on http:// never pins a browser to https://.
    development = make_settings(settings.database_url, settings.sqs_endpoint_url or "", hsts_max_age_s=600)
    assert "strict-transport-security" not in serve(development).get("/health").headers


# --- production: the API docs and /metrics ------------------------------------------------


DOCS_URLS = ("/docs", "/redoc", "/openapi.json", f"/docs/assets/{DOCS_BUNDLE.build}/swagger-ui.css")


def test_production_serves_no_api_docs_by_default(serve: Any, settings: Settings) -> None:
    c = serve(_production(settings))
    for url in DOCS_URLS:
        r = c.get(url)
        assert (r.status_code, error_code(r)) == (404, "SYS_404"), url
    # The document is still built (tools and tests read app.openapi()).
    assert "/v1/predictions/{symbol}" in c.app.openapi()["paths"]


def test_the_docs_switch_decides_in_any_environment(serve: Any, settings: Settings) -> None:
    public = serve(_production(settings, api_docs_public=True))
    for url in DOCS_URLS:
        assert public.get(url).status_code == 200, url
    assert "/internal/cycle/tick" in public.get("/openapi.json").json()["paths"]
    hidden = serve(
        make_settings(settings.database_url, settings.sqs_endpoint_url or "", api_docs_public=False)
    )
    for url in DOCS_URLS:
        assert hidden.get(url).status_code == 404, url
    default = serve(make_settings(settings.database_url, settings.sqs_endpoint_url or ""))
    assert default.get("/openapi.json").status_code == 200


def test_production_metrics_need_the_bearer_token(serve: Any, settings: Settings) -> None:
    prod_settings = _production(settings)
    c = serve(prod_settings)
    missing = c.get("/metrics")
    assert (missing.status_code, error_code(missing)) == (401, "AUTH_001")
    assert missing.headers["www-authenticate"] == "Bearer"
    basic = c.get("/metrics", headers={"Authorization": "Basic " + prod_settings.metrics_token})
    assert (basic.status_code, error_code(basic)) == (401, "AUTH_001")
    wrong = c.get("/metrics", headers=bearer(prod_settings.metrics_token + "x"))
    assert (wrong.status_code, error_code(wrong)) == (403, "AUTH_003")
    internal_token = c.get("/metrics", headers=bearer(prod_settings.internal_token))
    assert internal_token.status_code == 403
    right = c.get("/metrics", headers=bearer(prod_settings.metrics_token))
    assert right.status_code == 200
    assert right.headers["content-type"].startswith("text/plain")
    assert "http_requests_total" in right.text
    # The probes stay public.
    assert c.get("/health").status_code == 200


def test_metrics_are_public_only_without_a_token(client: TestClient, serve: Any, settings: Settings) -> None:
    assert client.get("/metrics").status_code == 200  # development: METRICS_TOKEN empty
    token = "m" * 40
    c = serve(make_settings(settings.database_url, settings.sqs_endpoint_url or "", metrics_token=token))
    assert c.get("/metrics").status_code == 401
    assert c.get("/metrics", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"metrics_token": ""}, "METRICS_TOKEN is empty"),
        ({"metrics_token": "short"}, "METRICS_TOKEN is shorter than 32"),
        ({"metrics_token": PRODUCTION_OK["internal_token"]}, "METRICS_TOKEN must differ from INTERNAL_TOKEN"),
    ],
)
def test_production_refuses_to_start_without_a_metrics_token(
    override: dict[str, object], problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        _settings(**{**PRODUCTION_OK, **override})


# --- no server banner -------------------------------------------------------------------


def _dockerfile_cmd() -> list[str]:
    lines = (Path(ROOT) / "Dockerfile").read_text().splitlines()
    cmd = [line for line in lines if line.startswith("CMD ")]
    assert len(cmd) == 1
    parsed: list[str] = json.loads(cmd[0].removeprefix("CMD "))
    return parsed


def test_the_image_command_serves_no_server_banner(settings: Settings, queues_ready: None) -> None:
    """The Dockerfile's CMD as it is (host and port moved to a free loopback port), a
    real uvicorn process: no `server` header, the security headers on."""
    cmd = _dockerfile_cmd()
    assert cmd[0] == "uvicorn"
    port = devstack.free_port()
    args = cmd[1:]
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": settings.database_url,
        "SQS_ENDPOINT_URL": settings.sqs_endpoint_url or "",
        "QUEUE_PREFIX": settings.queue_prefix,
        "JWT_PRIVATE_KEYS": json.dumps({TEST_SIGNING_KID: TEST_SIGNING_PEM}),
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *args],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        r = _wait_for_health(f"http://127.0.0.1:{port}", proc)
        assert r.status_code == 200
        assert "server" not in r.headers
        assert r.headers["x-content-type-options"] == "nosniff"
    finally:
        proc.terminate()
        proc.wait(20)
        assert proc.stderr is not None
        proc.stderr.close()


def _wait_for_health(base_url: str, proc: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            assert proc.stderr is not None
            raise AssertionError("uvicorn exited: " + proc.stderr.read().decode(errors="replace")[-2000:])
        try:
            return httpx.get(base_url + "/health", timeout=5)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("uvicorn did not answer /health")


def _calls(path: str) -> list[ast.Call]:
    tree = ast.parse((Path(ROOT) / path).read_text())
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def test_make_run_and_the_demo_start_uvicorn_without_the_banner() -> None:
    """`make run` (scripts/run_local.py: uvicorn.run) and `make demo` (a uvicorn
    process): each start of the API server turns the banner off."""
    runs = [
        call
        for call in _calls("scripts/run_local.py")
        if isinstance(call.func, ast.Attribute) and call.func.attr == "run"
        and isinstance(call.func.value, ast.Name) and call.func.value.id == "uvicorn"
    ]  # fmt: skip
    assert len(runs) == 1
    keywords = {k.arg: k.value for k in runs[0].keywords}
    assert isinstance(keywords.get("server_header"), ast.Constant)
    assert keywords["server_header"].value is False  # type: ignore[attr-defined]

    tree = ast.parse((Path(ROOT) / "scripts/demo/__main__.py").read_text())
    commands = [
        [e.value for e in node.elts if isinstance(e, ast.Constant)]
        for node in ast.walk(tree)
        if isinstance(node, ast.List)
        and any(isinstance(e, ast.Constant) and e.value == "uvicorn" for e in node.elts)
    ]
    assert commands and all("--no-server-header" in command for command in commands)


def test_internal_stays_reachable_with_its_token(client: TestClient, settings: Settings) -> None:
    """The headers change nothing of what the scheduler gets."""
    r = client.post("/internal/maintenance/gc", headers=internal(settings))
    assert r.status_code == 200
    _assert_api_headers(r)
