"""The redemption saga against the real HTTP vendor client: `build_reward_vendors` makes
an `HttpRewardVendor` that talks over loopback HTTP to a scripted fake vendor
(tests/support/fake_vendor.py), and sagas run redeem -> outbox -> relay -> SQS -> worker,
and the sweeper (which only requeues: the worker then drives the saga), as in
production. Every outcome the vendor can give: ISSUED, a definitive refusal, a FAILED
order, a timeout after the order was placed, 5xx on every attempt (back-off, then
recovery or giving up, never while another driver's call is in flight nor within the
saga timeout), PENDING; the player's cancel around the vendor call; a code that arrives
for a compensated redemption (ORPHANED); each redemption's own vendor key; and no code
in any log record."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
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
from tests.support.pipeline import Pipeline
from tests.support.rewards import add_reward, inventory, redemption, run_sagas, sweep, vendor_key

COST = 400
START = 1000  # the signup bonus
STOCK = 3


@pytest.fixture
def sleeps() -> list[float]:
    """The HTTP vendor's back-off waits between attempts (recorded, not slept)."""
    return []


@pytest.fixture
def vendor_overrides() -> dict[str, object]:
    """Settings the vendor is wired with beyond fake_vendor_settings' (a test changes them
    by parametrizing this name: a read timeout long enough for a gated call)."""
    return {}


@pytest.fixture
def pipeline(
    pipeline: Pipeline, fake: FakeGiftVendor, sleeps: list[float], vendor_overrides: dict[str, object]
) -> Iterator[Pipeline]:
    """The pipeline (and so `api`) with the HTTP vendor "giftvendor" at the fake."""
    settings = fake_vendor_settings(pipeline.settings, fake, **vendor_overrides)
    wire_fake_vendor(pipeline.container, settings, sleeps.append)
    yield pipeline
    pipeline.container.reward_http().close()


# A read timeout well past the time a test keeps a gated call in flight.
SLOW_READ = pytest.mark.parametrize(
    "vendor_overrides", [{"reward_vendor_read_timeout_s": 8.0}], ids=["slow-read"]
)


HELD_S = 3600  # how long BackOffs keeps a backed-off message invisible


class BackOffs:
    """The worker's back-offs of failed messages, seen through the queue (the seconds it
    asked for are recorded; the message is held invisible for an hour, so that it never
    comes back on its own in the middle of a test); `elapse()` makes the backed-off
    messages visible again, as when their back-off has passed."""

    def __init__(self, p: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
        queue = p.container.queue()
        self._change = queue.change_visibility
        self.queue_name = p.settings.queue_names["rewards_saga"]
        self.seen: list[tuple[str, int]] = []

        def spy(queue_name: str, receipt_handle: str, timeout_s: int) -> None:
            if queue_name == self.queue_name and timeout_s > 0:
                self.seen.append((receipt_handle, timeout_s))
                timeout_s = HELD_S
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
    assert mine["code"] == vendor_code(vendor_key(p, rid))
    row = redemption(p, rid)
    assert row["vendor_state"] is None and row["vendor_call_until"] is None  # no call in flight
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
    key = vendor_key(p, rid)
    assert fake.count("POST", key) == 1 and fake.count("GET") == 0 and sleeps == []
    sent = fake.requests[0]
    assert sent.body == {"idempotency_key": key, "sku": sku, "user_ref": f"user-{user_id}"}
    assert sent.headers["idempotency-key"] == key
    assert redemption(p, rid)["vendor_attempts"] == 1
    _integrity_ok(p)


def test_each_redemption_has_its_own_vendor_key_which_is_not_its_id(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor
) -> None:
    """The vendor's idempotency key is a UUID drawn for each redemption when it is
    accepted (databases sharing a vendor account reuse ids, never keys): every request
    about an order names it, and the code is the one the vendor gave under it."""
    p = pipeline
    sku = _gift(p, "GIFT-10")
    auth, _ = _player(api)
    other, _ = _player(api, "saga.vendor.other@example.com")
    rids = [_redeem(api, auth, sku), _redeem(api, other, sku)]
    keys = [vendor_key(p, rid) for rid in rids]  # drawn at redeem time, before the saga
    assert fake.requests == []
    assert len(set(keys)) == 2
    for rid, key in zip(rids, keys, strict=True):
        assert str(uuid.UUID(key)) == key and key != str(rid)
    assert run_sagas(p) == 2

    assert [vendor_key(p, rid) for rid in rids] == keys  # the saga never changes it
    assert sorted(str(r.key) for r in fake.requests) == sorted(keys)
    assert set(fake.orders) == set(keys)
    codes = [_mine(api, a, rid)["code"] for a, rid in ((auth, rids[0]), (other, rids[1]))]
    assert codes == [vendor_code(key) for key in keys] and codes[0] != codes[1]
    assert all(fake.count("POST", str(rid)) == 0 for rid in rids)  # no request keyed by an id
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
    assert redemption(p, rid)["vendor_call_until"] is None
    assert fake.count("POST", vendor_key(p, rid)) == 1 and fake.count("GET") == 0
    assert sleeps == []  # a 4xx is never retried
    failed = _events(p, "reward.failed")
    assert len(failed) == 1
    assert failed[0]["redemption_id"] == rid and failed[0]["user_id"] == user_id
    assert failed[0]["status"] == "FAILED" and failed[0]["reason"] == mine["failure_reason"]
    assert _events(p, "reward.issued") == []
    # A redelivered message or the sweeper leaves a final redemption alone.
    _past(p, p.settings.reward_saga_timeout_s)
    assert sweep(p) == {"requeued": 0, "redemption_ids": []}
    assert run_sagas(p) == 0
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
    assert fake.count("POST", vendor_key(p, rid)) == 1
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
    key = vendor_key(p, rid)
    assert fake.count("POST", key) == 1  # a POST that may have been delivered is never repeated
    assert fake.count("GET", key) == 1
    assert fake.orders[key]["code"] == _mine(api, auth, rid)["code"]
    assert sleeps == []
    assert redemption(p, rid)["vendor_attempts"] == 1
    # Nothing is left for the sweeper, and a second pass asks the vendor nothing.
    _past(p, p.settings.reward_saga_timeout_s)
    assert sweep(p)["requeued"] == 0
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

    key = vendor_key(p, rid)
    row = redemption(p, rid)
    assert row["status"] == RedemptionStatus.RESERVED and row["vendor_state"] == "UNKNOWN"
    assert row["vendor_call_until"] is None  # the call answered (a timeout): no lease left
    assert fake.count("POST", key) == 1 and fake.count("GET", key) == 2
    assert _balance(api, auth) == (START, COST, START - COST)
    assert inventory(p, sku) == (STOCK, 1, 0)
    r = api.post(f"/v1/rewards/redemptions/{rid}/cancel", headers=auth)
    assert r.status_code == 409 and error_code(r) == "REWARD_004"

    _past(p, p.settings.reward_vendor_poll_s)
    assert sweep(p) == {"requeued": 1, "redemption_ids": [rid]}
    assert fake.count("GET", key) == 2  # the sweeper itself never calls the vendor
    assert run_sagas(p) == 1
    _assert_issued(api, auth, p, rid, sku)
    assert fake.count("POST", key) == 1  # never placed twice
    assert fake.count("GET", key) == 3
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
    assert row["vendor_call_until"] is None  # the call answered: its lease is cleared
    assert fake.count("POST", str(row["vendor_key"])) == p.settings.reward_vendor_retries == 2
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
    assert fake.count("POST", vendor_key(p, rid)) == 3 and len(fake.orders) == 1
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
    assert sweep(p)["requeued"] == 0
    assert run_sagas(p) == 0
    assert fake.count("POST") == 2

    p.clock.advance(timedelta(seconds=2))
    tick = jobs.tick().details
    sweeps = [a for a in tick["actions"] if a["step"] == "rewards.sweep"]
    assert sweeps == [{"step": "rewards.sweep", "requeued": 1, "redemption_ids": [rid]}]
    assert fake.count("POST") == 2  # the tick itself never calls the vendor
    assert run_sagas(p) == 1  # the requeued message: the worker issues
    _assert_issued(api, auth, p, rid, sku)
    assert fake.count("POST", vendor_key(p, rid)) == 3
    # The backed-off message comes back later: the saga is done, the vendor is not asked.
    backoffs.elapse()
    assert run_sagas(p) == 1
    assert fake.count("POST") == 3 and fake.count("GET") == 0
    _assert_issued(api, auth, p, rid, sku)
    _integrity_ok(p)


def _exhaust_attempts(
    p: Pipeline,
    rid: int,
    between: timedelta,
    *,
    redeliver: BackOffs | None = None,
    last: int | None = None,
) -> None:
    """Drive the saga, the vendor answering 5xx, until issue attempt `last` (default:
    the last one allowed) failed: each attempt `between` after the previous one, by the
    sweeper (when `between` is past the saga timeout) or by the backed-off message
    coming back (`redeliver`)."""
    for attempt in range(2, (last or p.settings.reward_vendor_max_attempts) + 1):
        p.clock.advance(between)
        if redeliver is not None:
            redeliver.elapse()
        else:
            assert sweep(p) == {"requeued": 1, "redemption_ids": [rid]}
        assert run_sagas(p) == 0  # the message failed again
        row = redemption(p, rid)
        assert row["status"] == RedemptionStatus.RESERVED and row["vendor_attempts"] == attempt
        assert row["vendor_state"] == "UNAVAILABLE" and row["vendor_call_until"] is None


def test_attempts_exhausted_and_no_order_at_the_vendor_the_sweeper_compensates(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, sleeps: list[float], backoffs: BackOffs
) -> None:
    """Given up only past the saga timeout (since the first request), with no call in
    flight and on the vendor's word that it has no order under the key."""
    p = pipeline
    auth, rid, sku = _unavailable_first(api, p, fake, sleeps, backoffs)
    timeout = p.settings.reward_saga_timeout_s
    max_attempts = p.settings.reward_vendor_max_attempts
    assert max_attempts == 3
    key = vendor_key(p, rid)
    _exhaust_attempts(p, rid, timedelta(seconds=timeout + 1))
    assert fake.count("POST", key) == 2 * max_attempts and fake.count("GET") == 0

    _past(p, timeout)
    assert sweep(p) == {"requeued": 1, "redemption_ids": [rid]}
    assert redemption(p, rid)["status"] == RedemptionStatus.RESERVED  # the sweep only requeued it
    assert run_sagas(p) == 1
    mine = _mine(api, auth, rid)
    assert mine["status"] == "FAILED"
    assert mine["failure_reason"] == f"the vendor has no order after {max_attempts} attempts"
    assert fake.count("GET", key) == 1  # asked whether it has an order before giving up
    assert fake.count("POST", key) == 2 * max_attempts
    _assert_given_back(api, auth, p, rid, sku)
    assert _hold(p, rid) == "CANCELLED"
    assert [e["redemption_id"] for e in _events(p, "reward.failed")] == [rid]
    # The old messages (one backed off after each failed attempt), when they come back,
    # find a final redemption.
    backoffs.elapse()
    assert run_sagas(p) == max_attempts
    assert fake.count("POST") == 2 * max_attempts and fake.count("GET") == 1
    _integrity_ok(p)


def test_attempts_used_up_by_a_short_outage_are_asked_again_once_it_is_over(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, sleeps: list[float], backoffs: BackOffs
) -> None:
    """A vendor outage of a minute: every issue attempt of a redemption fails within it
    (the backed-off message redelivered every 20 s). Nothing is given up: while the
    vendor is still down the sweeper leaves the saga alone until the timeout; the next
    delivery after the outage asks the vendor (no order under the key) and then issues
    with the same key, once."""
    p = pipeline
    auth, rid, sku = _unavailable_first(api, p, fake, sleeps, backoffs)
    _exhaust_attempts(p, rid, timedelta(seconds=20), redeliver=backoffs)
    key = vendor_key(p, rid)
    max_attempts = p.settings.reward_vendor_max_attempts
    assert fake.count("POST", key) == 2 * max_attempts
    row = redemption(p, rid)
    assert row["status"] == RedemptionStatus.RESERVED and row["failure_reason"] is None
    assert _hold(p, rid) == "OPEN" and inventory(p, sku) == (STOCK, 1, 0)
    assert _balance(api, auth) == (START, COST, START - COST)
    # Not swept before the saga timeout.
    p.clock.advance(timedelta(seconds=p.settings.reward_saga_timeout_s - 100))
    assert sweep(p)["requeued"] == 0
    assert _events(p, "reward.failed") == []
    _integrity_ok(p)

    fake.fail_first.clear()  # the outage is over
    _past(p, 100)
    assert sweep(p)["requeued"] == 1
    run_sagas(p)
    assert fake.count("GET", key) == 1  # asked first: no order
    assert fake.count("POST", key) == 2 * max_attempts + 1  # then one more issue, same key
    _assert_issued(api, auth, p, rid, sku)
    assert _events(p, "reward.failed") == []
    _integrity_ok(p)


@SLOW_READ
def test_no_driver_gives_up_while_another_drivers_call_is_in_flight(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, sleeps: list[float], backoffs: BackOffs
) -> None:
    """The last issue attempt allowed is in flight (a worker waits on the vendor, which
    has not even read the request yet) when the saga's older messages come back on
    another worker, past the saga timeout and just before the call's lease ends: each
    asks the vendor, hears "no order", and would give up but for the lease. When the
    call answers ISSUED, it commits."""
    p = pipeline
    auth, rid, sku = _unavailable_first(api, p, fake, sleeps, backoffs)
    timeout = p.settings.reward_saga_timeout_s
    max_attempts = p.settings.reward_vendor_max_attempts
    budget = timedelta(seconds=p.settings.reward_vendor_call_budget_s)
    key = vendor_key(p, rid)
    _exhaust_attempts(p, rid, timedelta(seconds=timeout + 1), last=max_attempts - 1)
    held = len(backoffs.seen)
    assert held == max_attempts - 1  # one message backed off after each failed attempt
    # The vendor is back but slow: the requeued saga's last attempt starts, on a worker
    # of its own, and waits at the gate.
    fake.fail_first.clear()
    fake.gated_skus.add(sku)
    _past(p, timeout)
    assert sweep(p)["requeued"] == 1
    assert p.relay().publish_once().published == 1
    calling_worker = p.worker("rewards_saga")
    handled: list[int] = []
    calling = threading.Thread(target=lambda: handled.append(calling_worker.drain(max_rounds=1)))
    calling.start()
    try:
        fake.wait_gated()
        row = redemption(p, rid)
        assert row["status"] == RedemptionStatus.RESERVED and row["vendor_attempts"] == max_attempts
        lease = row["vendor_call_until"]
        assert lease == p.clock.now() + budget
        # Attempts used up and the first request past the timeout: only the lease stands
        # between a second driver and compensating.
        first_asked = row["vendor_requested_at"]
        assert isinstance(first_asked, datetime)
        assert p.clock.now() - first_asked > timedelta(seconds=timeout)

        p.clock.advance(budget - timedelta(seconds=1))
        backoffs.elapse()
        assert p.worker("rewards_saga").drain() == held  # handled: nothing to do yet
        assert p.container.reward_saga().advance(rid)["status"] == "RESERVED"  # once more, directly
        assert fake.count("GET", key) == held + 1 and fake.orders == {}  # each asked: no order
        row = redemption(p, rid)
        assert row["status"] == RedemptionStatus.RESERVED and row["failure_reason"] is None
        assert row["vendor_call_until"] == lease and row["vendor_attempts"] == max_attempts
        assert _hold(p, rid) == "OPEN" and inventory(p, sku) == (STOCK, 1, 0)
        assert _events(p, "reward.failed") == []
        assert sweep(p)["requeued"] == 0  # the call touched it: not due
    finally:
        fake.open_gate()
        calling.join(timeout=30)
    assert not calling.is_alive() and handled == [1]

    _assert_issued(api, auth, p, rid, sku)  # the call's answer committed
    assert fake.count("POST", key) == 2 * (max_attempts - 1) + 1 and len(fake.orders) == 1
    assert redemption(p, rid)["vendor_attempts"] == max_attempts
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

    key = vendor_key(p, rid)
    row = redemption(p, rid)
    assert row["status"] == RedemptionStatus.RESERVED and row["vendor_state"] == "PENDING"
    assert _mine(api, auth, rid)["code"] is None
    assert _balance(api, auth) == (START, COST, START - COST)
    assert inventory(p, sku) == (STOCK, 1, 0)
    assert fake.count("POST", key) == 1 and fake.count("GET") == 0
    r = api.post(f"/v1/rewards/redemptions/{rid}/cancel", headers=auth)
    assert r.status_code == 409 and error_code(r) == "REWARD_004"

    poll = p.settings.reward_vendor_poll_s
    p.clock.advance(timedelta(seconds=poll - 1))
    assert sweep(p)["requeued"] == 0
    assert run_sagas(p) == 0 and fake.count("GET") == 0

    p.clock.advance(timedelta(seconds=2))
    assert sweep(p) == {"requeued": 1, "redemption_ids": [rid]}
    assert fake.count("GET") == 0  # requeued, not asked
    # The sweep marked it seen: a second sweep right after requeues nothing.
    assert redemption(p, rid)["vendor_checked_at"] == p.clock.now()
    assert sweep(p) == {"requeued": 0, "redemption_ids": []}
    assert run_sagas(p) == 1  # one message, one look-up
    assert redemption(p, rid)["vendor_state"] == "PENDING"
    assert fake.count("GET", key) == 1

    _past(p, poll)
    assert sweep(p) == {"requeued": 1, "redemption_ids": [rid]}
    assert run_sagas(p) == 1
    _assert_issued(api, auth, p, rid, sku)
    assert fake.count("GET", key) == 2 and fake.count("POST") == 1
    assert redemption(p, rid)["vendor_attempts"] == 1
    assert _rows(p, "SELECT count(*) FROM crypto.outbox WHERE topic = 'reward.requested'") == [3]
    _integrity_ok(p)


# --- a code for a compensated redemption ---------------------------------------------------


def test_a_code_issued_after_the_redemption_was_compensated_is_marked_orphaned(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, caplog: pytest.LogCaptureFixture
) -> None:
    """The vendor's answer arrives after the redemption was compensated (its call
    outlived every lease): it stays FAILED with everything given back, and the code is
    kept nowhere but marked for an operator (vendor_state ORPHANED, an ERROR record
    without the code), once."""
    p = pipeline
    sku = _gift(p, "GIFT-10")
    auth, _ = _player(api)
    rid = _redeem(api, auth, sku)
    with p.session() as s:
        steps = RedemptionSteps(s, p.clock, p.settings)
        steps.hold(rid)
        steps.reserve(rid)
        steps.begin_vendor_call(rid)
    with p.session() as s:
        RedemptionSteps(s, p.clock, p.settings).compensate(rid, RedemptionStatus.FAILED, "given up by hand")
    _assert_given_back(api, auth, p, rid, sku)

    caplog.set_level(logging.DEBUG)
    code = vendor_code(vendor_key(p, rid))
    for _ in range(2):  # the answer twice (a retried step): one mark, one record
        with p.session() as s:
            result = RedemptionSteps(s, p.clock, p.settings).commit(rid, code)
        assert (result.status, result.changed) == (RedemptionStatus.FAILED, False)

    row = redemption(p, rid)
    assert row["status"] == RedemptionStatus.FAILED and row["failure_reason"] == "given up by hand"
    assert row["vendor_state"] == "ORPHANED" and row["vendor_code"] is None
    assert row["vendor_call_until"] is None
    _assert_given_back(api, auth, p, rid, sku)
    assert _mine(api, auth, rid)["code"] is None
    assert _events(p, "reward.issued") == []
    orphaned = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "myapi.rewards"]
    assert len(orphaned) == 1, [r.getMessage() for r in caplog.records]
    assert str(rid) in orphaned[0].getMessage() and "FAILED" in orphaned[0].getMessage()
    for record in caplog.records:
        assert code not in record.getMessage() and code not in repr(vars(record)), record.name
    # Operators find it; the saga and the sweeper leave it alone.
    assert run_sagas(p) == 1
    assert redemption(p, rid)["vendor_state"] == "ORPHANED"
    _past(p, p.settings.reward_saga_timeout_s)
    assert sweep(p)["requeued"] == 0
    assert fake.requests == []
    _integrity_ok(p)


@SLOW_READ
def test_a_call_that_outlives_its_lease_and_a_refund_leave_an_orphaned_code(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, caplog: pytest.LogCaptureFixture
) -> None:
    """The end to end case: an issue call is still on its way when its lease is over
    (the vendor has not even read it); an operator's refund, the vendor having no order,
    ends the redemption; then the vendor issues the code after all. The saga keeps the
    redemption FAILED and marks the code ORPHANED for the operator."""
    p = pipeline
    caplog.set_level(logging.DEBUG)
    sku = _gift(p, "GIFT-10")
    fake.gated_skus.add(sku)
    auth, _ = _player(api)
    admin = bearer(dev_login(api, "orphan.admin@example.com", role="ADMIN")["access_token"])
    rid = _redeem(api, auth, sku)
    assert p.relay().publish_once().published == 1
    handled: list[int] = []
    calling = threading.Thread(target=lambda: handled.append(p.worker("rewards_saga").drain(max_rounds=1)))
    calling.start()
    try:
        fake.wait_gated()
        _past(p, int(p.settings.reward_vendor_call_budget_s))
        r = api.post(f"/admin/rewards/redemptions/{rid}/refund", json={"reason": "stuck"}, headers=admin)
        assert r.status_code == 200 and r.json()["data"]["status"] == "FAILED", r.text
        _assert_given_back(api, auth, p, rid, sku)
    finally:
        fake.open_gate()
        calling.join(timeout=30)
    assert not calling.is_alive() and handled == [1]

    key = vendor_key(p, rid)
    assert fake.orders[key]["status"] == "ISSUED"  # the vendor did issue a code
    row = redemption(p, rid)
    assert row["status"] == RedemptionStatus.FAILED and row["vendor_state"] == "ORPHANED"
    assert row["failure_reason"] == "refunded by an operator: stuck" and row["vendor_code"] is None
    _assert_given_back(api, auth, p, rid, sku)
    assert _events(p, "reward.issued") == []
    listed = api.get("/admin/rewards/redemptions", params={"vendor_state": "ORPHANED"}, headers=admin)
    assert [i["id"] for i in listed.json()["data"]] == [rid]
    errors = [r for r in caplog.records if r.name == "myapi.rewards" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and str(rid) in errors[0].getMessage()
    assert vendor_code(key) not in caplog.text
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
    assert codes == [vendor_code(vendor_key(p, rid)) for rid in rids]
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
