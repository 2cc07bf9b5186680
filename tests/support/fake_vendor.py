"""A local gift-code vendor speaking the protocol of myapi/providers/rewards/http.py,
scriptable per SKU or per key, and the wiring that points a container's reward vendors
at it (the real `build_reward_vendors` and `HttpRewardVendor`, over loopback HTTP)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from dependency_injector import providers

from myapi.container import Container
from myapi.core.config import Settings
from myapi.providers.rewards import HttpRewardVendor, build_reward_vendors, make_reward_http_client
from tests.support.http_server import LoopbackFake, LoopbackServer, running, send_json

API_KEY = "sk-live-7f3a9c1e5b2d"
HANG_S = 1.5  # past the client's read timeout
GATE_S = 10.0  # the longest a gated request waits for its test to open the gate
VENDOR_NAME = "giftvendor"


def vendor_code(key: str) -> str:
    """The fake's code for an order key (deterministic, so a test can expect it)."""
    return "GV-" + hashlib.sha256(key.encode()).hexdigest()[:16].upper()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None

    @property
    def key(self) -> str | None:
        """The order key the request is about (POST body, or GET path)."""
        if self.method == "POST":
            return str(self.body["idempotency_key"]) if self.body and "idempotency_key" in self.body else None
        return self.path.removeprefix("/v1/orders/") if self.path.startswith("/v1/orders/") else None


@dataclass
class FakeGiftVendor(LoopbackFake):
    """The protocol of myapi/providers/rewards/http.py, with scripted misbehaviour.

    * `rejected[sku] = (status, reason)`: POST answers that 4xx.
    * `failed_skus[sku] = reason`: the order is placed FAILED with that reason (POST and
      GET answer it).
    * `fail_first[sku or key] = n`: the first n requests (POST for a sku, GET or POST for
      a key) answer `fail_status` (503 unless set), then it behaves.
    * `fail_gets = n`: the next n GETs answer `fail_status` (a look-up outage).
    * `hang_skus`: the order is placed, then the answer comes after HANG_S (the client
      times out; a later GET finds the order ISSUED).
    * `pending_polls[sku] = n`: the order is PENDING, and GET answers PENDING n - 1 more
      times before ISSUED.
    * `gated_skus`: a POST for the sku waits, before the vendor even looks at it (no order
      exists meanwhile), until the test calls `open_gate()` (at most GATE_S): a vendor
      call kept in flight for exactly as long as the test wants. `wait_gated()` returns
      once such a request is waiting.
    """

    requests: list[Recorded] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected: dict[str, tuple[int, str]] = field(default_factory=dict)
    failed_skus: dict[str, str] = field(default_factory=dict)
    fail_first: dict[str, int] = field(default_factory=dict)
    fail_status: int = 503
    fail_gets: int = 0
    hang_skus: set[str] = field(default_factory=set)
    pending_polls: dict[str, int] = field(default_factory=dict)
    gated_skus: set[str] = field(default_factory=set)
    gate: threading.Event = field(default_factory=threading.Event)
    gated: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.orders.clear()
            self.rejected.clear()
            self.failed_skus.clear()
            self.fail_first.clear()
            self.fail_status = 503
            self.fail_gets = 0
            self.hang_skus.clear()
            self.pending_polls.clear()
            self.gated_skus.clear()
            self.gate.set()  # a request an earlier test left waiting goes on
            self.gate, self.gated = threading.Event(), threading.Event()

    def wait_gated(self, timeout: float = GATE_S) -> None:
        """Until a POST for a gated sku is waiting at the gate."""
        if not self.gated.wait(timeout):
            raise AssertionError(f"no request reached the gate within {timeout}s")

    def open_gate(self) -> None:
        """Let the gated requests (and any later one) through."""
        self.gate.set()

    def count(self, method: str, key: str | None = None) -> int:
        """Requests of `method` received (about the order `key`, when given)."""
        with self.lock:
            return sum(1 for r in self.requests if r.method == method and (key is None or r.key == key))

    def _failing(self, *names: str) -> bool:
        for name in names:
            left = self.fail_first.get(name, 0)
            if left > 0:
                self.fail_first[name] = left - 1
                return True
        return False

    def _public(self, key: str) -> dict[str, Any]:
        stored = self.orders[key]
        order = {k: v for k, v in stored.items() if k in ("key", "status", "code", "reason")}
        if order["status"] != "ISSUED":
            order.pop("code", None)
        return order

    def handle(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any, bool]:
        """(status, JSON answer, hang first)."""
        with self.lock:
            self.requests.append(Recorded(method, path, headers, body if isinstance(body, dict) else None))
            if headers.get("authorization") != f"Bearer {API_KEY}":
                presented = headers.get("authorization", "")
                return 401, {"error": {"type": "unauthorized", "reason": f"bad token {presented}"}}, False
            if method == "POST" and path == "/v1/orders":
                return self._post(headers, body)
            if method == "GET" and path.startswith("/v1/orders/"):
                return self._get(path.removeprefix("/v1/orders/"))
            return 404, {"error": {"type": "not_found", "reason": "no such route"}}, False

    def _post(self, headers: dict[str, str], body: Any) -> tuple[int, Any, bool]:
        if not isinstance(body, dict) or not all(
            isinstance(body.get(f), str) for f in ("idempotency_key", "sku", "user_ref")
        ):
            return 400, {"error": {"type": "bad_request", "reason": "malformed body"}}, False
        key, sku, user_ref = body["idempotency_key"], body["sku"], body["user_ref"]
        if headers.get("idempotency-key") != key:
            return 400, {"error": {"type": "bad_request", "reason": "Idempotency-Key mismatch"}}, False
        if self._failing(sku, key):
            return self.fail_status, {"error": {"type": "unavailable", "reason": "try later"}}, False
        if key in self.orders:
            stored = self.orders[key]
            if (stored["sku"], stored["user_ref"]) != (sku, user_ref):
                reason = "idempotency key reused with a different request"
                return 409, {"error": {"type": "conflict", "reason": reason}}, False
            return 200, {"order": self._public(key)}, False
        if sku in self.rejected:
            status, reason = self.rejected[sku]
            return status, {"error": {"type": "refused", "reason": reason}}, False
        polls = self.pending_polls.get(sku, 0)
        failed = self.failed_skus.get(sku)
        placed: tuple[str, str | None]
        if failed is not None:
            placed = ("FAILED", failed)
        elif polls:
            placed = ("PENDING", "being prepared")
        else:
            placed = ("ISSUED", None)
        self.orders[key] = {
            "key": key,
            "sku": sku,
            "user_ref": user_ref,
            "status": placed[0],
            "code": vendor_code(key),
            "polls_left": polls - 1,
            "reason": placed[1],
        }
        return 201, {"order": self._public(key)}, sku in self.hang_skus

    def _get(self, key: str) -> tuple[int, Any, bool]:
        if self.fail_gets > 0:
            self.fail_gets -= 1
            return self.fail_status, {"error": {"type": "unavailable", "reason": "try later"}}, False
        if self._failing(key):
            return self.fail_status, {"error": {"type": "unavailable", "reason": "try later"}}, False
        stored = self.orders.get(key)
        if stored is None:
            return 404, {"error": {"type": "not_found", "reason": "no such order"}}, False
        if stored["status"] == "PENDING":
            if stored["polls_left"] <= 0:
                stored["status"], stored["reason"] = "ISSUED", None
            stored["polls_left"] -= 1
        return 200, {"order": self._public(key)}, False

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                return

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                headers = {k.lower(): v for k, v in self.headers.items()}
                if method == "POST" and isinstance(body, dict) and body.get("sku") in fake.gated_skus:
                    gate = fake.gate
                    fake.gated.set()
                    gate.wait(GATE_S)
                status, answer, hang = fake.handle(method, self.path, headers, body)
                if hang and fake.stopping.wait(HANG_S):
                    return
                data = json.dumps(answer).encode()
                send_json(self, status, data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        self.server = LoopbackServer(Handler)

    def stop(self) -> None:
        self.stopping.set()
        self.gate.set()
        super().stop()


def fake_vendor_settings(base: Settings, fake: FakeGiftVendor, **overrides: object) -> Settings:
    """`base` with the HTTP reward vendor `VENDOR_NAME` at `fake`: 2 attempts a call, a
    read timeout well under HANG_S."""
    values: dict[str, object] = {
        "reward_vendor_url": fake.base_url,
        "reward_vendor_api_key": API_KEY,
        "reward_vendor_name": VENDOR_NAME,
        "reward_vendor_connect_timeout_s": 0.5,
        "reward_vendor_read_timeout_s": 0.5,
        "reward_vendor_retries": 2,
        **overrides,
    }
    return base.model_copy(update=values)


def wire_fake_vendor(
    container: Container, settings: Settings, sleep: Callable[[float], None]
) -> HttpRewardVendor:
    """Make `container` run on `settings` with the vendors production builds from them
    (build_reward_vendors over make_reward_http_client), the HTTP vendor's back-off
    waits handed to `sleep` instead of slept. Call before the container built anything
    that reads its settings or vendors; close `container.reward_http()` afterwards."""
    container.settings.override(providers.Object(settings))
    http = make_reward_http_client(settings)
    vendors = build_reward_vendors(settings, http)
    vendor = vendors[settings.reward_vendor_name]
    assert isinstance(vendor, HttpRewardVendor)
    vendor.sleep = sleep
    container.reward_http.override(providers.Object(http))
    container.reward_vendors.override(providers.Object(vendors))
    return vendor


# Fixtures (registered in tests/conftest.py): one fake vendor for the run, reset per test.
@pytest.fixture(scope="session")
def fake_vendor() -> Iterator[FakeGiftVendor]:
    with running(FakeGiftVendor()) as server:
        yield server


@pytest.fixture
def fake(fake_vendor: FakeGiftVendor) -> FakeGiftVendor:
    fake_vendor.reset()
    return fake_vendor
