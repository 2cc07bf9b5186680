"""The redemption saga against the real HTTP vendor client: `build_reward_vendors` makes
an `HttpRewardVendor` that talks over loopback HTTP to a scripted fake vendor
(tests/support/fake_vendor.py), and sagas run redeem -> outbox -> relay -> SQS -> worker,
and the sweeper, as in production. Every outcome the vendor can give: ISSUED, a
definitive refusal, a FAILED order, a timeout after the order was placed, 5xx on every
attempt (back-off, then recovery or giving up), PENDING; the player's cancel around the
vendor call; and no code in any log record."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from myapi.core.enums import RedemptionStatus
from myapi.rewards.service import RedemptionSteps
from tests.support.db import failed_checks
from tests.support.fake_vendor import (
    API_KEY,
    VENDOR_NAME,
    FakeGiftVendor,
    fake_vendor_settings,
    vendor_code,
    wire_fake_vendor,
)
from tests.support.http import bearer, dev_login, error_code
from tests.support.http_server import running
from tests.support.pipeline import Pipeline
from tests.support.rewards import add_reward, inventory, redemption, run_sagas

COST = 400
START = 1000  # the signup bonus
STOCK = 3


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
    """The HTTP vendor's back-off waits between attempts (recorded, not slept)."""
    return []


@pytest.fixture
def pipeline(pipeline: Pipeline, fake: FakeGiftVendor, sleeps: list[float]) -> Iterator[Pipeline]:
    """The pipeline (and so `api`) with the HTTP vendor "giftvendor" at the fake."""
    wire_fake_vendor(pipeline.container, fake_vendor_settings(pipeline.settings, fake), sleeps.append)
    yield pipeline
    pipeline.container.reward_http().close()


class BackOffs:
    """The worker's back-offs of failed messages, seen through the queue; `elapse()`
    makes the backed-off messages visible again, as when their back-off has passed."""

    def __init__(self, p: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
        queue = p.container.queue()
        self._change = queue.change_visibility
        self.queue_name = p.settings.queue_names["rewards_saga"]
        self.seen: list[tuple[str, int]] = []

        def spy(queue_name: str, receipt_handle: str, timeout_s: int) -> None:
            if queue_name == self.queue_name and timeout_s > 0:
                self.seen.append((receipt_handle, timeout_s))
            self._change(queue_name, receipt_handle, timeout_s)

        monkeypatch.setattr(queue, "change_visibility", spy)
        self._queue = queue

    @property
    def seconds(self) -> list[int]:
        return [s for _, s in self.seen]

    def depth(self) -> dict[str, int]:
        depth: dict[str, int] = self._queue.depth(self.queue_name)
        return depth

    def elapse(self) -> None:
        for handle, _ in self.seen:
            self._change(self.queue_name, handle, 0)
        self.seen.clear()


@pytest.fixture
def backoffs(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> BackOffs:
    return BackOffs(pipeline, monkeypatch)


# --- helpers ------------------------------------------------------------------------------


def _gift(p: Pipeline, sku: str) -> str:
    with p.session() as s:
        return add_reward(s, sku, cost=COST, stock=STOCK, vendor=VENDOR_NAME)


def _player(api: TestClient, email: str = "saga.vendor@example.com") -> tuple[dict[str, str], int]:
    login = dev_login(api, email)
    return bearer(login["access_token"]), int(login["user"]["id"])


def _redeem(api: TestClient, auth: dict[str, str], sku: str) -> int:
    r = api.post("/v1/rewards/redeem", json={"sku": sku}, headers=auth)
    assert r.status_code == 202, r.text
    return int(r.json()["data"]["redemption_id"])


def _mine(api: TestClient, auth: dict[str, str], rid: int) -> dict[str, Any]:
    r = api.get(f"/v1/rewards/redemptions/{rid}", headers=auth)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def _balance(api: TestClient, auth: dict[str, str]) -> tuple[int, int, int]:
    """(balance, held, available) of the player."""
    data = api.get("/v1/points/balance", headers=auth).json()["data"]
    return data["balance"], data["held"], data["available"]


def _rows(p: Pipeline, sql: str, **params: object) -> list[Any]:
    with p.engine.connect() as conn:
        return list(conn.execute(text(sql), params).scalars())


def _debits(p: Pipeline, rid: int) -> list[int]:
    """The REDEEM ledger entries of a redemption (their deltas)."""
    sql = "SELECT delta_points FROM crypto.points_ledger WHERE ref_type = 'REDEEM' AND ref_id = :r"
    return _rows(p, sql, r=str(rid))


def _hold(p: Pipeline, rid: int) -> str | None:
    sql = "SELECT status::text FROM crypto.points_holds WHERE ref_type = 'REDEEM' AND ref_id = :r"
    found = _rows(p, sql, r=str(rid))
    return found[0] if found else None


def _events(p: Pipeline, topic: str) -> list[dict[str, Any]]:
    return _rows(p, "SELECT payload FROM crypto.outbox WHERE topic = :t ORDER BY id", t=topic)


def _job_errors(p: Pipeline, job: str) -> list[str]:
    return _rows(
        p, "SELECT error FROM crypto.job_runs WHERE job = :j AND status = 'FAILED' ORDER BY id", j=job
    )


def _integrity_ok(p: Pipeline) -> None:
    with p.session() as s:
        assert failed_checks(s, p.clock.now()) == {}


def _assert_given_back(api: TestClient, auth: dict[str, str], p: Pipeline, rid: int, sku: str) -> None:
    """Compensated: no debit, the hold void (or never placed), the unit back in stock."""
    assert _balance(api, auth) == (START, 0, START)
    assert inventory(p, sku) == (STOCK, 0, 0)
    assert _debits(p, rid) == []
    assert _hold(p, rid) in ("CANCELLED", None)
    assert redemption(p, rid)["vendor_code"] is None


def _assert_issued(api: TestClient, auth: dict[str, str], p: Pipeline, rid: int, sku: str) -> None:
    """Issued once: the fake's code, one debit of the cost, the hold committed, the unit issued."""
    mine = _mine(api, auth, rid)
    assert mine["status"] == "ISSUED" and mine["failure_reason"] is None
    assert mine["code"] == vendor_code(str(rid))
    assert redemption(p, rid)["vendor_state"] is None
    assert _balance(api, auth) == (START - COST, 0, START - COST)
    assert inventory(p, sku) == (STOCK, 0, 1)
    assert _debits(p, rid) == [-COST]
    assert _hold(p, rid) == "COMMITTED"
    assert [e["redemption_id"] for e in _events(p, "reward.issued")] == [rid]
    assert _events(p, "reward.failed") == []


def _past(p: Pipeline, seconds: int) -> None:
    p.clock.advance(timedelta(seconds=seconds + 1))


# --- the vendor's answers -----------------------------------------------------------------


def test_issued_at_once_commits_the_vendors_code(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, sleeps: list[float]
) -> None:
    p = pipeline
    sku = _gift(p, "GIFT-10")
    auth, user_id = _player(api)
    rid = _redeem(api, auth, sku)
    assert run_sagas(p) == 1
    _assert_issued(api, auth, p, rid, sku)
    assert fake.count("POST", str(rid)) == 1 and fake.count("GET") == 0 and sleeps == []
    sent = fake.requests[0].body
    assert sent == {"idempotency_key": str(rid), "sku": sku, "user_ref": f"user-{user_id}"}
    assert redemption(p, rid)["vendor_attempts"] == 1
    _integrity_ok(p)


def test_definitive_refusal_fails_with_the_vendors_reason_and_gives_everything_back(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, sleeps: list[float]
) -> None:
    p = pipeline
    sku = _gift(p, "GIFT-OOS")
    fake.rejected[sku] = (422, "sold out at the vendor")
    auth, user_id = _player(api)
    rid = _redeem(api, auth, sku)
    assert run_sagas(p) == 1

    mine = _mine(api, auth, rid)
    assert mine["status"] == "FAILED" and mine["code"] is None
    assert mine["failure_reason"] == "the vendor refused: sold out at the vendor"
    _assert_given_back(api, auth, p, rid, sku)
    assert _hold(p, rid) == "CANCELLED"
    assert fake.count("POST", str(rid)) == 1 and fake.count("GET") == 0
    assert sleeps == []  # a 4xx is never retried
    failed = _events(p, "reward.failed")
    assert len(failed) == 1
    assert failed[0]["redemption_id"] == rid and failed[0]["user_id"] == user_id
    assert failed[0]["status"] == "FAILED" and failed[0]["reason"] == mine["failure_reason"]
    assert _events(p, "reward.issued") == []
    # A redelivered message or the sweeper leaves a final redemption alone.
    _past(p, p.settings.reward_saga_timeout_s)
    assert p.container.jobs().sweep_rewards().details["swept"] == 0
    assert fake.count("POST") == 1
    _integrity_ok(p)


def test_a_failed_order_is_compensated_the_same_way(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor
) -> None:
    p = pipeline
    sku = _gift(p, "GIFT-CARD")
    fake.failed_skus[sku] = "card network declined"
    auth, _ = _player(api)
    rid = _redeem(api, auth, sku)
    assert run_sagas(p) == 1

    mine = _mine(api, auth, rid)
    assert mine["status"] == "FAILED" and mine["code"] is None
    assert mine["failure_reason"] == "the vendor failed the order: card network declined"
    _assert_given_back(api, auth, p, rid, sku)
    assert fake.count("POST", str(rid)) == 1
    assert [e["reason"] for e in _events(p, "reward.failed")] == [mine["failure_reason"]]
    _integrity_ok(p)


def test_timeout_with_the_order_placed_asks_the_status_and_issues_once(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, sleeps: list[float]
) -> None:
    p = pipeline
    sku = _gift(p, "GIFT-SLOW")
    fake.hang_skus.add(sku)
    auth, _ = _player(api)
    rid = _redeem(api, auth, sku)
    assert run_sagas(p) == 1

    _assert_issued(api, auth, p, rid, sku)
    assert fake.count("POST", str(rid)) == 1  # a POST that may have been delivered is never repeated
    assert fake.count("GET", str(rid)) == 1
    assert fake.orders[str(rid)]["code"] == _mine(api, auth, rid)["code"]
    assert sleeps == []
    assert redemption(p, rid)["vendor_attempts"] == 1
    # Nothing is left for the sweeper, and a second pass asks the vendor nothing.
    _past(p, p.settings.reward_saga_timeout_s)
    assert p.container.jobs().sweep_rewards().details["swept"] == 0
    assert run_sagas(p) == 0
    assert fake.count("POST") == 1 and fake.count("GET") == 1
    _integrity_ok(p)


def test_timeout_and_no_status_answer_waits_unknown_until_the_sweeper_polls(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor
) -> None:
    p = pipeline
    sku = _gift(p, "GIFT-SLOW")
    fake.hang_skus.add(sku)
    fake.fail_gets = p.settings.reward_vendor_retries  # the look-up right after fails too
    auth, _ = _player(api)
    rid = _redeem(api, auth, sku)
    assert run_sagas(p) == 1  # handled: an unknown outcome waits for the sweeper

    row = redemption(p, rid)
    assert row["status"] == RedemptionStatus.RESERVED and row["vendor_state"] == "UNKNOWN"
    assert fake.count("POST", str(rid)) == 1 and fake.count("GET", str(rid)) == 2
    assert _balance(api, auth) == (START, COST, START - COST)
    assert inventory(p, sku) == (STOCK, 1, 0)
    r = api.post(f"/v1/rewards/redemptions/{rid}/cancel", headers=auth)
    assert r.status_code == 409 and error_code(r) == "REWARD_004"

    _past(p, p.settings.reward_vendor_poll_s)
    assert p.container.jobs().sweep_rewards().details == {"swept": 1, "outcomes": {"ISSUED": 1}, "errors": 0}
    _assert_issued(api, auth, p, rid, sku)
    assert fake.count("POST", str(rid)) == 1  # never placed twice
    assert fake.count("GET", str(rid)) == 3
    _integrity_ok(p)


def _unavailable_first(
    api: TestClient, p: Pipeline, fake: FakeGiftVendor, sleeps: list[float], backoffs: BackOffs
) -> tuple[dict[str, str], int, str]:
    """A redemption whose first delivery met 5xx on every attempt: backed off, RESERVED
    with vendor_state UNAVAILABLE, the points held and the unit reserved."""
    sku = _gift(p, "GIFT-DOWN")
    fake.fail_first[sku] = 1000
    auth, _ = _player(api)
    rid = _redeem(api, auth, sku)
    assert run_sagas(p) == 0  # the message failed: not handled

    row = redemption(p, rid)
    assert row["status"] == RedemptionStatus.RESERVED
    assert row["vendor_state"] == "UNAVAILABLE"
    assert row["vendor_attempts"] == 1 and row["vendor_requested_at"] is not None
    assert fake.count("POST", str(rid)) == p.settings.reward_vendor_retries == 2
    assert len(sleeps) == 1 and fake.orders == {}
    errors = _job_errors(p, "rewards.saga")
    assert len(errors) == 1 and errors[0].startswith("REWARD_503")
    assert len(backoffs.seconds) == 1 and backoffs.seconds[0] > 0  # retried from the queue, later
    assert backoffs.depth()["in_flight"] == 1 and backoffs.depth()["visible"] == 0
    assert _balance(api, auth) == (START, COST, START - COST)
    assert inventory(p, sku) == (STOCK, 1, 0)
    assert _hold(p, rid) == "OPEN" and _debits(p, rid) == []
    # The vendor was asked: the player cannot take it back any more.
    r = api.post(f"/v1/rewards/redemptions/{rid}/cancel", headers=auth)
    assert r.status_code == 409 and error_code(r) == "REWARD_004"
    _integrity_ok(p)
    return auth, rid, sku


def test_5xx_on_every_attempt_backs_off_then_the_redelivered_message_issues(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, sleeps: list[float], backoffs: BackOffs
) -> None:
    p = pipeline
    auth, rid, sku = _unavailable_first(api, p, fake, sleeps, backoffs)
    fake.fail_first.clear()  # the vendor recovers
    backoffs.elapse()
    assert run_sagas(p) == 1

    _assert_issued(api, auth, p, rid, sku)
    assert fake.count("POST", str(rid)) == 3 and len(fake.orders) == 1
    assert redemption(p, rid)["vendor_attempts"] == 2
    assert backoffs.depth() == {"visible": 0, "in_flight": 0, "delayed": 0}
    _integrity_ok(p)


def test_5xx_on_every_attempt_then_the_sweeper_issues_after_the_saga_timeout(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, sleeps: list[float], backoffs: BackOffs
) -> None:
    p = pipeline
    auth, rid, sku = _unavailable_first(api, p, fake, sleeps, backoffs)
    fake.fail_first.clear()
    jobs = p.container.jobs()
    # Not idle long enough yet (and UNAVAILABLE is not polled): the sweeper leaves it.
    p.clock.advance(timedelta(seconds=p.settings.reward_saga_timeout_s - 1))
    assert jobs.sweep_rewards().details["swept"] == 0
    assert fake.count("POST") == 2

    p.clock.advance(timedelta(seconds=2))
    tick = jobs.tick().details
    sweeps = [a for a in tick["actions"] if a["step"] == "rewards.sweep"]
    assert sweeps == [{"step": "rewards.sweep", "swept": 1, "outcomes": {"ISSUED": 1}, "errors": 0}]
    _assert_issued(api, auth, p, rid, sku)
    assert fake.count("POST", str(rid)) == 3
    # The backed-off message comes back later: the saga is done, the vendor is not asked.
    backoffs.elapse()
    assert run_sagas(p) == 1
    assert fake.count("POST") == 3 and fake.count("GET") == 0
    _assert_issued(api, auth, p, rid, sku)
    _integrity_ok(p)


def test_attempts_exhausted_and_no_order_at_the_vendor_the_sweeper_compensates(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, sleeps: list[float], backoffs: BackOffs
) -> None:
    p = pipeline
    auth, rid, sku = _unavailable_first(api, p, fake, sleeps, backoffs)
    jobs = p.container.jobs()
    timeout = p.settings.reward_saga_timeout_s
    max_attempts = p.settings.reward_vendor_max_attempts
    assert max_attempts == 3
    for attempt in range(2, max_attempts + 1):
        _past(p, timeout)
        swept = jobs.sweep_rewards().details
        assert swept == {"swept": 1, "outcomes": {}, "errors": 1}
        row = redemption(p, rid)
        assert row["status"] == RedemptionStatus.RESERVED and row["vendor_attempts"] == attempt
        assert row["vendor_state"] == "UNAVAILABLE"
    assert fake.count("POST", str(rid)) == 2 * max_attempts and fake.count("GET") == 0

    _past(p, timeout)
    swept = jobs.sweep_rewards().details
    assert swept == {"swept": 1, "outcomes": {"FAILED": 1}, "errors": 0}
    mine = _mine(api, auth, rid)
    assert mine["status"] == "FAILED"
    assert mine["failure_reason"] == f"the vendor has no order after {max_attempts} attempts"
    assert fake.count("GET", str(rid)) == 1  # asked whether it has an order before giving up
    assert fake.count("POST", str(rid)) == 2 * max_attempts
    _assert_given_back(api, auth, p, rid, sku)
    assert _hold(p, rid) == "CANCELLED"
    assert [e["redemption_id"] for e in _events(p, "reward.failed")] == [rid]
    # The old message, when it comes back, finds a final redemption.
    backoffs.elapse()
    assert run_sagas(p) == 1
    assert fake.count("POST") == 2 * max_attempts
    _integrity_ok(p)


def test_pending_stays_reserved_until_the_sweeper_polls_it_issued(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor
) -> None:
    p = pipeline
    sku = _gift(p, "GIFT-LATER")
    fake.pending_polls[sku] = 2  # PENDING when placed, PENDING on the first poll, then ISSUED
    auth, _ = _player(api)
    rid = _redeem(api, auth, sku)
    assert run_sagas(p) == 1  # handled: PENDING is an answer, not a failure

    row = redemption(p, rid)
    assert row["status"] == RedemptionStatus.RESERVED and row["vendor_state"] == "PENDING"
    assert _mine(api, auth, rid)["code"] is None
    assert _balance(api, auth) == (START, COST, START - COST)
    assert inventory(p, sku) == (STOCK, 1, 0)
    assert fake.count("POST", str(rid)) == 1 and fake.count("GET") == 0
    r = api.post(f"/v1/rewards/redemptions/{rid}/cancel", headers=auth)
    assert r.status_code == 409 and error_code(r) == "REWARD_004"

    jobs = p.container.jobs()
    poll = p.settings.reward_vendor_poll_s
    p.clock.advance(timedelta(seconds=poll - 1))
    assert jobs.sweep_rewards().details["swept"] == 0
    assert fake.count("GET") == 0

    p.clock.advance(timedelta(seconds=2))
    assert jobs.sweep_rewards().details == {"swept": 1, "outcomes": {"RESERVED": 1}, "errors": 0}
    assert redemption(p, rid)["vendor_state"] == "PENDING"
    assert fake.count("GET", str(rid)) == 1

    _past(p, poll)
    assert jobs.sweep_rewards().details == {"swept": 1, "outcomes": {"ISSUED": 1}, "errors": 0}
    _assert_issued(api, auth, p, rid, sku)
    assert fake.count("GET", str(rid)) == 2 and fake.count("POST") == 1
    assert redemption(p, rid)["vendor_attempts"] == 1
    _integrity_ok(p)


# --- the player's cancel ------------------------------------------------------------------


def test_cancel_while_requested_before_the_saga_ran(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor
) -> None:
    p = pipeline
    sku = _gift(p, "GIFT-10")
    auth, _ = _player(api)
    rid = _redeem(api, auth, sku)
    r = api.post(f"/v1/rewards/redemptions/{rid}/cancel", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "CANCELLED"
    assert r.json()["data"]["failure_reason"] == "cancelled by the player"
    assert run_sagas(p) == 1  # the saga's message finds it cancelled

    assert redemption(p, rid)["status"] == RedemptionStatus.CANCELLED
    _assert_given_back(api, auth, p, rid, sku)
    assert _hold(p, rid) is None  # the saga never held the points
    assert fake.requests == []
    assert _events(p, "reward.failed") == []  # a cancel is not a failure
    again = api.post(f"/v1/rewards/redemptions/{rid}/cancel", headers=auth)
    assert again.status_code == 409 and error_code(again) == "REWARD_004"
    _integrity_ok(p)


def test_cancel_while_reserved_before_the_vendor_was_asked(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor
) -> None:
    p = pipeline
    sku = _gift(p, "GIFT-10")
    auth, _ = _player(api)
    rid = _redeem(api, auth, sku)
    # The saga's first two steps, without its vendor step (a worker that stopped there).
    with p.session() as s:
        RedemptionSteps(s, p.clock, p.settings).hold(rid)
    with p.session() as s:
        RedemptionSteps(s, p.clock, p.settings).reserve(rid)
    assert redemption(p, rid)["status"] == RedemptionStatus.RESERVED
    assert _balance(api, auth) == (START, COST, START - COST)
    assert inventory(p, sku) == (STOCK, 1, 0)

    r = api.post(f"/v1/rewards/redemptions/{rid}/cancel", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "CANCELLED"
    assert run_sagas(p) == 1
    assert redemption(p, rid)["status"] == RedemptionStatus.CANCELLED
    _assert_given_back(api, auth, p, rid, sku)
    assert _hold(p, rid) == "CANCELLED"
    assert fake.requests == []
    _integrity_ok(p)


def test_no_cancel_once_issued(api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor) -> None:
    p = pipeline
    sku = _gift(p, "GIFT-10")
    auth, _ = _player(api)
    rid = _redeem(api, auth, sku)
    assert run_sagas(p) == 1
    r = api.post(f"/v1/rewards/redemptions/{rid}/cancel", headers=auth)
    assert r.status_code == 409 and error_code(r) == "REWARD_004"
    _assert_issued(api, auth, p, rid, sku)
    _integrity_ok(p)


# --- secrets --------------------------------------------------------------------------------


def test_issued_codes_never_reach_a_log_record(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, caplog: pytest.LogCaptureFixture
) -> None:
    p = pipeline
    caplog.set_level(logging.DEBUG)
    quick, slow = _gift(p, "GIFT-10"), _gift(p, "GIFT-SLOW")
    fake.hang_skus.add(slow)  # the timeout path too: the code arrives through a status call
    auth, _ = _player(api)
    rids = [_redeem(api, auth, quick), _redeem(api, auth, slow)]
    assert run_sagas(p) == 2
    codes = [_mine(api, auth, rid)["code"] for rid in rids]
    assert codes == [vendor_code(str(rid)) for rid in rids]
    listed = api.get("/v1/rewards/redemptions", headers=auth).json()["data"]
    assert sorted(item["code"] for item in listed) == sorted(codes)

    loggers = {record.name for record in caplog.records}
    assert {"myapi.providers.rewards.http", "batch.worker", "httpx"} <= loggers, loggers
    for record in caplog.records:
        for code in codes:
            assert code not in record.getMessage(), record.name
            assert code not in repr(record.args), record.name
            assert code not in repr(vars(record)), record.name  # nor in any extra
    assert API_KEY not in caplog.text
    _integrity_ok(p)
