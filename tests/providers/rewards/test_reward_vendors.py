"""Reward vendors: the HTTP client against a local fake vendor (scripted per SKU or per
key), and the sandbox."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from myapi.providers.rewards import (
    HttpRewardVendor,
    RewardVendor,
    SandboxRewardVendor,
    VendorOrder,
    VendorRejectedError,
    VendorTimeoutError,
    VendorUnavailableError,
    sandbox_code,
)
from tests.support.http_server import LoopbackFake, LoopbackServer, running, send_json

API_KEY = "sk-live-7f3a9c1e5b2d"
TIMEOUT_S = 0.3
HANG_S = 1.5  # past the client's read timeout


def vendor_code(key: str) -> str:
    return "GV-" + hashlib.sha256(key.encode()).hexdigest()[:16].upper()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class FakeGiftVendor(LoopbackFake):
    """The protocol of myapi/providers/rewards/http.py, with scripted misbehaviour.

    * `rejected[sku] = (status, reason)`: POST answers that 4xx.
    * `fail_first[sku or key] = n`: the first n requests (POST for a sku, GET or POST for
      a key) answer `fail_status` (503 unless set), then it behaves.
    * `hang_skus`: the order is placed, then the answer comes after HANG_S (the client
      times out; a later GET finds the order ISSUED).
    * `pending_polls[sku] = n`: the order is PENDING, and GET answers PENDING n - 1 more
      times before ISSUED.
    """

    requests: list[Recorded] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected: dict[str, tuple[int, str]] = field(default_factory=dict)
    fail_first: dict[str, int] = field(default_factory=dict)
    fail_status: int = 503
    hang_skus: set[str] = field(default_factory=set)
    pending_polls: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.orders.clear()
            self.rejected.clear()
            self.fail_first.clear()
            self.fail_status = 503
            self.hang_skus.clear()
            self.pending_polls.clear()

    def count(self, method: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.method == method)

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
        self.orders[key] = {
            "key": key,
            "sku": sku,
            "user_ref": user_ref,
            "status": "PENDING" if polls else "ISSUED",
            "code": vendor_code(key),
            "polls_left": polls - 1,
            "reason": "being prepared" if polls else None,
        }
        return 201, {"order": self._public(key)}, sku in self.hang_skus

    def _get(self, key: str) -> tuple[int, Any, bool]:
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
        super().stop()


@pytest.fixture(scope="module")
def fake_vendor() -> Iterator[FakeGiftVendor]:
    with running(FakeGiftVendor()) as server:
        yield server


@pytest.fixture
def fake(fake_vendor: FakeGiftVendor) -> FakeGiftVendor:
    fake_vendor.reset()
    return fake_vendor


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def vendor(fake: FakeGiftVendor, http_client: httpx.Client, sleeps: list[float]) -> HttpRewardVendor:
    return HttpRewardVendor(
        http=http_client,
        base_url=fake.base_url + "/",
        api_key=API_KEY,
        retries=3,
        connect_timeout_s=TIMEOUT_S,
        read_timeout_s=TIMEOUT_S,
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
        backoff_jitter_s=0.01,
        sleep=sleeps.append,  # back-off waits recorded, not slept
    )


def assert_no_secrets(text: str, *codes: str) -> None:
    assert API_KEY not in text
    for code in codes:
        assert code not in text


# -- the HTTP vendor -----------------------------------------------------------------


def test_issue_happy_path_sends_the_key_and_the_credentials(
    vendor: HttpRewardVendor, fake: FakeGiftVendor
) -> None:
    order = vendor.issue("red-1", "GIFT-10", "user-7")
    assert order == VendorOrder(key="red-1", status="ISSUED", code=vendor_code("red-1"), reason=None)
    assert len(fake.requests) == 1
    sent = fake.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/orders")
    assert sent.body == {"idempotency_key": "red-1", "sku": "GIFT-10", "user_ref": "user-7"}
    assert sent.headers["idempotency-key"] == "red-1"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert vendor.status("red-1") == order


def test_reissue_with_the_same_key_answers_the_same_order(
    vendor: HttpRewardVendor, fake: FakeGiftVendor
) -> None:
    first = vendor.issue("red-2", "GIFT-10", "user-7")
    again = vendor.issue("red-2", "GIFT-10", "user-7")
    assert again == first and again.code == vendor_code("red-2")
    assert len(fake.orders) == 1
    assert [r.headers["idempotency-key"] for r in fake.requests] == ["red-2", "red-2"]


def test_key_reused_for_another_request_is_rejected(vendor: HttpRewardVendor, fake: FakeGiftVendor) -> None:
    vendor.issue("red-3", "GIFT-10", "user-7")
    with pytest.raises(VendorRejectedError) as caught:
        vendor.issue("red-3", "GIFT-50", "user-7")
    assert caught.value.status_code == 409
    assert caught.value.reason == "idempotency key reused with a different request"
    assert len(fake.orders) == 1


def test_definitive_refusal_raises_rejected_with_the_vendors_reason(
    vendor: HttpRewardVendor, fake: FakeGiftVendor, sleeps: list[float]
) -> None:
    fake.rejected["GIFT-OOS"] = (422, "out of stock")
    with pytest.raises(VendorRejectedError) as caught:
        vendor.issue("red-4", "GIFT-OOS", "user-7")
    assert caught.value.reason == "out of stock" and caught.value.status_code == 422
    assert "out of stock" in str(caught.value) and "red-4" in str(caught.value)
    assert fake.count("POST") == 1 and sleeps == []  # a 4xx is never retried
    assert vendor.status("red-4") is None


def test_5xx_twice_then_success_places_one_order_in_three_requests(
    vendor: HttpRewardVendor, fake: FakeGiftVendor, sleeps: list[float]
) -> None:
    fake.fail_first["GIFT-FLAKY"] = 2
    order = vendor.issue("red-5", "GIFT-FLAKY", "user-7")
    assert order.status == "ISSUED" and order.code == vendor_code("red-5")
    assert fake.count("POST") == 3 and len(fake.orders) == 1
    assert {r.headers["idempotency-key"] for r in fake.requests} == {"red-5"}
    assert len(sleeps) == 2 and all(0 < s <= 0.05 for s in sleeps)


def test_5xx_always_raises_unavailable_after_the_retries(
    vendor: HttpRewardVendor, fake: FakeGiftVendor, sleeps: list[float]
) -> None:
    fake.fail_first["GIFT-DOWN"] = 100
    with pytest.raises(VendorUnavailableError) as caught:
        vendor.issue("red-6", "GIFT-DOWN", "user-7")
    assert fake.count("POST") == 3 and len(sleeps) == 2
    assert "HTTP 503 after 3 attempts" in str(caught.value)
    assert fake.orders == {}


def test_429_is_retried_like_5xx(vendor: HttpRewardVendor, fake: FakeGiftVendor) -> None:
    fake.fail_status = 429
    fake.fail_first["GIFT-BUSY"] = 1
    assert vendor.issue("red-7", "GIFT-BUSY", "user-7").status == "ISSUED"
    assert fake.count("POST") == 2


def test_gateway_timeouts_on_every_attempt_leave_the_outcome_unknown(
    vendor: HttpRewardVendor, fake: FakeGiftVendor
) -> None:
    fake.fail_status = 504
    fake.fail_first["GIFT-GW"] = 100
    with pytest.raises(VendorTimeoutError):
        vendor.issue("red-8", "GIFT-GW", "user-7")
    assert fake.count("POST") == 3


def test_hang_raises_timeout_at_once_and_status_finds_the_issued_order(
    vendor: HttpRewardVendor, fake: FakeGiftVendor, sleeps: list[float]
) -> None:
    fake.hang_skus.add("GIFT-SLOW")
    with pytest.raises(VendorTimeoutError) as caught:
        vendor.issue("red-9", "GIFT-SLOW", "user-7")
    assert "outcome unknown" in str(caught.value)
    assert fake.count("POST") == 1 and sleeps == []  # a possibly-delivered POST is not retried
    # The saga's unknown-outcome path: ask by key before compensating.
    found = vendor.status("red-9")
    assert found == VendorOrder(key="red-9", status="ISSUED", code=vendor_code("red-9"))
    assert fake.count("POST") == 1 and len(fake.orders) == 1


def test_pending_then_issued_on_a_later_status(vendor: HttpRewardVendor, fake: FakeGiftVendor) -> None:
    fake.pending_polls["GIFT-SLOWCARD"] = 2
    placed = vendor.issue("red-10", "GIFT-SLOWCARD", "user-7")
    assert placed.status == "PENDING" and placed.code is None
    pending = vendor.status("red-10")
    assert pending is not None and pending.status == "PENDING" and pending.code is None
    issued = vendor.status("red-10")
    assert issued == VendorOrder(key="red-10", status="ISSUED", code=vendor_code("red-10"))


def test_status_of_an_unknown_key_is_none(vendor: HttpRewardVendor, fake: FakeGiftVendor) -> None:
    assert vendor.status("never-placed") is None
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/v1/orders/never-placed")]


def test_status_quotes_the_key_in_the_path(vendor: HttpRewardVendor, fake: FakeGiftVendor) -> None:
    assert vendor.status("a/b c") is None
    assert fake.requests[0].path == "/v1/orders/a%2Fb%20c"


def test_status_retries_5xx_then_gives_up_unavailable(
    vendor: HttpRewardVendor, fake: FakeGiftVendor, sleeps: list[float]
) -> None:
    vendor.issue("red-11", "GIFT-10", "user-7")
    fake.fail_first["red-11"] = 2
    found = vendor.status("red-11")
    assert found is not None and found.status == "ISSUED" and fake.count("GET") == 3
    fake.fail_first["red-11"] = 100
    with pytest.raises(VendorUnavailableError):
        vendor.status("red-11")
    assert fake.count("GET") == 6


def test_connection_refused_is_retried_then_unavailable(sleeps: list[float]) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        host, port = closed.server_address[:2]
    with httpx.Client() as http:
        vendor = HttpRewardVendor(
            http, f"http://{host!s}:{port}", API_KEY, connect_timeout_s=TIMEOUT_S, sleep=sleeps.append
        )
        with pytest.raises(VendorUnavailableError) as caught:
            vendor.issue("red-12", "GIFT-10", "user-7")
    assert "ConnectError" in str(caught.value) and len(sleeps) == 2
    assert_no_secrets(str(caught.value))


def test_unreadable_answer_to_a_post_leaves_the_outcome_unknown() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"order": {"key": "other", "status": "ISSUED", "code": "GV-LEAK"}})

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        vendor = HttpRewardVendor(http, "http://vendor.test", API_KEY)
        with pytest.raises(VendorTimeoutError) as caught:
            vendor.issue("red-13", "GIFT-10", "user-7")
    assert "unreadable answer" in str(caught.value)
    assert_no_secrets(str(caught.value), "GV-LEAK")


def test_redirects_are_not_followed() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(307, headers={"Location": "http://elsewhere.test/v1/orders"})

    with httpx.Client(transport=httpx.MockTransport(answer), follow_redirects=True) as http:
        vendor = HttpRewardVendor(http, "http://vendor.test", API_KEY)
        with pytest.raises(VendorUnavailableError, match="unexpected HTTP 307"):
            vendor.issue("red-14", "GIFT-10", "user-7")
    assert seen == ["http://vendor.test/v1/orders"]


def test_api_key_and_codes_never_reach_messages_reprs_or_logs(
    vendor: HttpRewardVendor,
    fake: FakeGiftVendor,
    http_client: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.fail_first["GIFT-FLAKY"] = 1
    fake.hang_skus.add("GIFT-SLOW")
    messages: list[str] = []
    issued = vendor.issue("red-20", "GIFT-10", "user-7")
    flaky = vendor.issue("red-21", "GIFT-FLAKY", "user-7")
    with pytest.raises(VendorTimeoutError) as timed_out:
        vendor.issue("red-22", "GIFT-SLOW", "user-7")
    messages.append(str(timed_out.value))
    late = vendor.status("red-22")
    assert late is not None
    # A vendor that echoes the presented token in its refusal: the key is redacted.
    wrong = HttpRewardVendor(http_client, fake.base_url, API_KEY + "-old", retries=1)
    with pytest.raises(VendorRejectedError) as refused:
        wrong.issue("red-23", "GIFT-10", "user-7")
    assert refused.value.status_code == 401 and "***" in refused.value.reason
    messages += [str(refused.value), repr(refused.value), refused.value.reason]
    codes = [vendor_code(k) for k in ("red-20", "red-21", "red-22")]
    assert [o.code for o in (issued, flaky, late)] == codes
    for order in (issued, flaky, late):
        messages += [repr(order), str(order), f"{order}", f"{[order]}"]
        assert "code=<redacted>" in repr(order)
    messages.append(repr(vendor))
    assert caplog.records, "the calls log at DEBUG/INFO/WARNING"
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert_no_secrets("\n".join([*messages, caplog.text]), *codes)


# -- the sandbox ---------------------------------------------------------------------


def test_sandbox_codes_are_deterministic_and_distinct() -> None:
    code = sandbox_code("red-1", "GIFT-10")
    assert code == sandbox_code("red-1", "GIFT-10")
    assert code.startswith("SBX-") and len(code) == len("SBX-XXXX-XXXX-XXXX")
    assert all(len(group) == 4 for group in code.split("-")[1:])
    assert not set(code.replace("-", "")) & set("01OI")
    assert len({sandbox_code(f"red-{i}", "GIFT-10") for i in range(1000)}) == 1000
    assert sandbox_code("red-1", "GIFT-50") != code


def test_sandbox_issue_is_idempotent_per_key() -> None:
    sandbox: RewardVendor = SandboxRewardVendor()
    assert sandbox.status("red-1") is None
    order = sandbox.issue("red-1", "GIFT-10", "user-7")
    assert order == VendorOrder(key="red-1", status="ISSUED", code=sandbox_code("red-1", "GIFT-10"))
    assert sandbox.issue("red-1", "GIFT-10", "user-7") == order
    assert sandbox.status("red-1") == order
    assert "SBX-" not in repr(order)
    with pytest.raises(VendorRejectedError) as caught:
        sandbox.issue("red-1", "GIFT-50", "user-7")
    assert caught.value.status_code == 409


def test_sandbox_after_a_restart_reissues_the_same_code() -> None:
    before = SandboxRewardVendor().issue("red-1", "GIFT-10", "user-7")
    restarted = SandboxRewardVendor()
    assert restarted.status("red-1") is None  # orders are not kept across restarts...
    assert restarted.issue("red-1", "GIFT-10", "user-7") == before  # ...but the code is the same


def test_sandbox_rejected_skus_are_out_of_stock() -> None:
    sandbox = SandboxRewardVendor(rejected_skus={"GIFT-OOS"})
    with pytest.raises(VendorRejectedError) as caught:
        sandbox.issue("red-1", "GIFT-OOS", "user-7")
    assert caught.value.reason == "out of stock"
    assert sandbox.status("red-1") is None


def test_sandbox_is_thread_safe() -> None:
    sandbox = SandboxRewardVendor()
    results: list[VendorOrder] = []
    lock = threading.Lock()

    def issue() -> None:
        order = sandbox.issue("red-1", "GIFT-10", "user-7")
        with lock:
            results.append(order)

    threads = [threading.Thread(target=issue) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 16 and len(set(results)) == 1
