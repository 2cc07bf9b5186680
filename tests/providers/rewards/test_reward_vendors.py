"""Reward vendors: the HTTP client against a local fake vendor (tests/support/fake_vendor.py,
scripted per SKU or per key), and the sandbox."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
from tests.support.fake_vendor import API_KEY, FakeGiftVendor, vendor_code

TIMEOUT_S = 0.3


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
