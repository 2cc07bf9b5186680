"""A local chat webhook (Slack incoming webhook / Discord webhook) that records what it
is posted, scriptable to fail, and the wiring that points a container's alert sink at
it (the real `build_alert_sink` and `WebhookSink`, over loopback HTTP)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

import pytest
from dependency_injector import providers

from myapi.container import Container
from myapi.core.config import Settings
from myapi.providers.alerts import WebhookSink, build_alert_sink, make_alert_http_client
from tests.support.http_server import LoopbackFake, LoopbackServer, running, send_json

# The credential part of the URL, as Slack and Discord put it in the path.
HOOK_PATH = "/services/T0ALERTS/B0OXU/s3cr3t-hook-token"
GATE_S = 10.0  # the longest a gated post waits for its test to open the gate


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def text(self) -> str:
        return str(self.body.get("text", "")) if isinstance(self.body, dict) else ""


@dataclass
class FakeWebhook(LoopbackFake):
    """Records every POST (`posts`: each attempt, `delivered`: those answered 2xx).

    * `style`: "slack" answers 200 "ok", "discord" answers 204 (no body).
    * `fail_next = n`: the next n posts answer `fail_status` (500 unless set), with
      `Retry-After: retry_after` when that is set (a 429).
    * `gated`: a post waits, before it is answered, until the test calls `open_gate()`
      (at most GATE_S); `wait_gated()` returns once one is waiting.
    """

    posts: list[Posted] = field(default_factory=list)
    delivered: list[Posted] = field(default_factory=list)
    style: Literal["slack", "discord"] = "slack"
    fail_next: int = 0
    fail_status: int = 500
    retry_after: str | None = None
    gated: bool = False
    gate: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.posts.clear()
            self.delivered.clear()
            self.style = "slack"
            self.fail_next = 0
            self.fail_status = 500
            self.retry_after = None
            self.gated = False
            self.gate.set()  # a post an earlier test left waiting goes on
            self.gate, self.arrived = threading.Event(), threading.Event()

    @property
    def url(self) -> str:
        return self.base_url + HOOK_PATH

    def texts(self) -> list[str]:
        """The `text` of every delivered message, in order."""
        with self.lock:
            return [p.text for p in self.delivered]

    def wait_gated(self, timeout: float = GATE_S) -> None:
        if not self.arrived.wait(timeout):
            raise AssertionError(f"no post reached the gate within {timeout}s")

    def open_gate(self) -> None:
        self.gate.set()

    def _answer(self, posted: Posted) -> tuple[int, bytes, dict[str, str]]:
        with self.lock:
            self.posts.append(posted)
            if posted.path != HOOK_PATH:
                return 404, b'{"message": "Unknown Webhook"}', {}
            if self.fail_next > 0:
                self.fail_next -= 1
                headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
                return self.fail_status, b'{"message": "try later"}', headers
            if not isinstance(posted.body, dict) or not posted.body.get("text"):
                return 400, b'{"message": "invalid_payload"}', {}
            self.delivered.append(posted)
            return (204, b"", {}) if self.style == "discord" else (200, b"ok", {})

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
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                headers = {k.lower(): v for k, v in self.headers.items()}
                if fake.gated:
                    gate = fake.gate
                    fake.arrived.set()
                    gate.wait(GATE_S)
                status, data, extra = fake._answer(Posted(self.path, headers, body))
                if status == 204 or extra:
                    try:
                        self.send_response(status)
                        for name, value in extra.items():
                            self.send_header(name, value)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                send_json(self, status, data)

        self.server = LoopbackServer(Handler)

    def stop(self) -> None:
        self.gate.set()
        super().stop()


def fake_webhook_settings(base: Settings, fake: FakeWebhook, **overrides: object) -> Settings:
    """`base` with ALERT_WEBHOOK_URL at `fake` and a short request timeout."""
    values: dict[str, object] = {"alert_webhook_url": fake.url, "alert_http_timeout_s": 2.0, **overrides}
    return base.model_copy(update=values)


def wire_fake_webhook(
    container: Container, settings: Settings, sleep: Callable[[float], None]
) -> WebhookSink:
    """Make `container` run on `settings` with the alert sink production builds from them
    (build_alert_sink over make_alert_http_client), its retry waits handed to `sleep`
    instead of slept. Close `container.alert_http()` afterwards."""
    container.settings.override(providers.Object(settings))
    http = make_alert_http_client(settings)
    sink = build_alert_sink(settings, http)
    assert isinstance(sink, WebhookSink)
    sink.sleep = sleep
    container.alert_http.override(providers.Object(http))
    container.alert_sink.override(providers.Object(sink))
    return sink


@pytest.fixture(scope="session")
def fake_webhook_server() -> Iterator[FakeWebhook]:
    with running(FakeWebhook()) as server:
        yield server


@pytest.fixture
def webhook(fake_webhook_server: FakeWebhook) -> FakeWebhook:
    fake_webhook_server.reset()
    return fake_webhook_server
