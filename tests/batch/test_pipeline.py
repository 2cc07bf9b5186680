"""Outbox relay, SQS workers and handlers against the real queue endpoint and database."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, date, datetime

import pytest

from myapi.admin.repository import IntegrityRepository
from myapi.events.relay import NOT_SENT_NOTE
from myapi.outbox.repository import OutboxRepository
from myapi.providers.queue import OutgoingMessage, QueueError, dlq_name_for
from tests.support.factories import make_user, open_day, predict
from tests.support.pipeline import Pipeline

DAY = date(2026, 11, 23)
AFTER_CLOSE = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)


def add_events(p: Pipeline, n: int, topic: str = "settlement.requested") -> None:
    with p.session() as s:
        repo = OutboxRepository(s)
        for i in range(n):
            repo.add(topic, {"trading_day": "2026-11-23", "n": i}, now=p.clock.now())


def test_relay_publishes_envelopes_and_marks_rows(pipeline: Pipeline) -> None:
    add_events(pipeline, 23)
    result = pipeline.relay().publish_once()
    assert (result.claimed, result.published, result.failed) == (23, 23, 0)
    assert pipeline.scalar("SELECT count(*) FROM crypto.outbox WHERE published_at IS NULL") == 0
    queue = pipeline.container.queue()
    name = pipeline.settings.queue_names["settlement_compute"]
    bodies = []
    for _ in range(10):
        bodies += [json.loads(m.body) for m in queue.receive(name, 10, 0)]
    assert len(bodies) == 23
    first = bodies[0]
    assert first["type"] == "settlement.requested" and first["version"] == 1
    assert first["id"].startswith("outbox-") and first["attempt"] == 1
    assert first["payload"]["trading_day"] == "2026-11-23"
    assert pipeline.relay().publish_once().claimed == 0  # nothing twice


def test_events_without_a_consumer_are_recorded_and_marked_published_unsent(pipeline: Pipeline) -> None:
    with pipeline.session() as s:
        OutboxRepository(s).add(
            "points.awarded",
            {"user_id": 7, "trading_day": "2026-11-23", "delta": 50, "entries": 1},
            now=pipeline.clock.now(),
            group_id="user-7",
            dedup_id="award-7-a",
        )
    result = pipeline.relay().publish_once()
    assert (result.claimed, result.published, result.unrouted, result.failed) == (1, 0, 1, 0)
    assert pipeline.scalar("SELECT count(*) FROM crypto.outbox WHERE published_at IS NULL") == 0
    assert pipeline.scalar("SELECT last_error FROM crypto.outbox") == NOT_SENT_NOTE
    # Nothing was sent anywhere: no consumed queue received it.
    for key in ("eod_fetch", "settlement_compute"):
        assert pipeline.container.queue().receive(pipeline.settings.queue_names[key], 10, 0) == []


def test_unroutable_topic_is_kept_with_the_error_and_a_backoff(pipeline: Pipeline) -> None:
    add_events(pipeline, 1, topic="nobody.listens")
    result = pipeline.relay().publish_once()
    assert result.failed == 1
    assert pipeline.scalar("SELECT attempts FROM crypto.outbox") == 1
    assert "no queue" in str(pipeline.scalar("SELECT last_error FROM crypto.outbox"))
    assert pipeline.relay().publish_once().claimed == 0  # backing off


@pytest.mark.slow  # ~2.5 s: relays racing over one outbox
def test_concurrent_relays_publish_each_row_once(pipeline: Pipeline) -> None:
    add_events(pipeline, 200)
    results = []

    def run() -> None:
        relay = pipeline.relay()
        while True:
            r = relay.publish_once(limit=25)
            results.append(r.published)
            if r.claimed == 0:
                return

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 200
    queue = pipeline.container.queue()
    name = pipeline.settings.queue_names["settlement_compute"]
    seen = []
    for _ in range(40):
        batch = queue.receive(name, 10, 0)
        if not batch:
            break
        seen += [json.loads(m.body)["id"] for m in batch]
    assert len(seen) == 200 and len(set(seen)) == 200


def test_the_pipeline_fetches_settles_and_awards_through_the_queues(pipeline: Pipeline) -> None:
    p = pipeline
    with p.session() as s:
        open_day(s, p.clock, p.settings, ["AAPL", "MSFT", "NVDA"])
        users = [make_user(s, f"q{i}@example.com") for i in range(4)]
        for i, u in enumerate(users):
            for symbol in ("AAPL", "MSFT", "NVDA"):
                predict(s, p.clock, p.settings, u, symbol, "UP" if i % 2 == 0 else "DOWN")
    p.clock.set(AFTER_CLOSE)
    with p.session() as s:
        from myapi.events.catalogue import request_eod_fetch

        request_eod_fetch(s, p.clock.now(), DAY)
    p.pump()
    assert p.scalar("SELECT count(*) FROM crypto.eod_prices WHERE asof = '2026-11-23'") == 3
    assert p.scalar("SELECT settled_at IS NOT NULL FROM crypto.session_control") is True
    assert p.scalar("SELECT count(*) FROM crypto.predictions WHERE status = 'PENDING'") == 0
    with p.session() as s:
        assert all(r.passed for r in IntegrityRepository(s).run())
    assert p.scalar("SELECT count(*) FROM crypto.eod_fetch_logs WHERE status = 'SUCCESS'") == 1


def test_every_message_three_times_in_concurrent_workers_awards_once(pipeline: Pipeline) -> None:
    p = pipeline
    with p.session() as s:
        open_day(s, p.clock, p.settings, ["AAPL", "MSFT"])
        users = [make_user(s, f"dup{i}@example.com") for i in range(6)]
        for i, u in enumerate(users):
            predict(s, p.clock, p.settings, u, "AAPL", "UP" if i % 2 else "DOWN")
            predict(s, p.clock, p.settings, u, "MSFT", "DOWN" if i % 2 else "UP")
    p.clock.set(AFTER_CLOSE)
    from myapi.providers.eod.sandbox import SandboxEodProvider

    with p.session() as s:
        from myapi.market.service import VendorEventService

        VendorEventService(s, p.clock).store(
            list(SandboxEodProvider().fetch(DAY, ["AAPL", "MSFT"]).quotes.values())
        )
    queue = p.container.queue()
    name = p.settings.queue_names["settlement_compute"]
    body = json.dumps({"type": "settlement.requested", "version": 1, "id": "x", "attempt": 1,
                       "payload": {"trading_day": DAY.isoformat()}})  # fmt: skip
    for _ in range(3):
        queue.send_batch(name, [OutgoingMessage(body)])
    threads = [threading.Thread(target=p.worker("settlement_compute").drain) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    correct = p.scalar("SELECT count(*) FROM crypto.predictions WHERE status = 'CORRECT'")
    awards = p.scalar("SELECT count(*) FROM crypto.points_ledger WHERE ref_type = 'SETTLEMENT'")
    assert correct == awards and int(str(awards)) > 0
    assert p.scalar("SELECT sum(balance) FROM crypto.point_balances") == 6 * 1000 + 50 * int(str(correct))
    with p.session() as s:
        assert all(r.passed for r in IntegrityRepository(s).run())


def test_poison_messages_land_in_the_dlq(pipeline: Pipeline) -> None:
    p = pipeline
    queue = p.container.queue()
    name = p.settings.queue_names["eod_fetch"]
    queue.send_batch(
        name, [OutgoingMessage("not json"), OutgoingMessage('{"type": "who.knows", "payload": {}}')]
    )
    worker = p.worker("eod_fetch")
    for _ in range(6):  # maxReceiveCount is 3
        worker.poll_once(0)
    dead = []
    for _ in range(3):
        dead += queue.receive(dlq_name_for(name), 10, 0)
    assert sorted(m.body for m in dead) == ["not json", '{"type": "who.knows", "payload": {}}']


def test_a_failing_handler_is_retried_then_dead_lettered(pipeline: Pipeline) -> None:
    p = pipeline
    queue = p.container.queue()
    name = p.settings.queue_names["settlement_compute"]
    # No session for that day: settlement fails every time (SETTLE_404).
    body = json.dumps({"type": "settlement.requested", "payload": {"trading_day": "2026-12-01"}})
    queue.send_batch(name, [OutgoingMessage(body)])
    worker = p.worker("settlement_compute")
    for _ in range(3):
        [msg] = queue.receive(name, 10, 0, visibility_timeout_s=30)
        assert worker.process(msg) is False
        queue.change_visibility(name, msg.receipt_handle, 0)  # skip the back-off in the test
    assert queue.receive(name, 10, 0) == []
    assert [m.body for m in queue.receive(dlq_name_for(name), 10, 0)] == [body]
    assert (
        p.scalar("SELECT count(*) FROM crypto.job_runs WHERE job = 'settlement.run' AND status = 'FAILED'")
        == 3
    )


def test_a_handled_message_that_cannot_be_deleted_is_not_an_error(pipeline: Pipeline) -> None:
    """The delete after a handled job can fail (SQS unreachable, or the receipt went
    stale: the message's visibility lapsed and another worker received it). The job has
    committed and is idempotent, so the worker logs it and goes on; the message comes
    back and is handled again, changing nothing."""
    p = pipeline
    queue = p.container.queue()
    name = p.settings.queue_names["settlement_compute"]
    payload = {"trading_day": "2026-11-23", "symbols_settled": 0}
    queue.send_batch(
        name, [OutgoingMessage(json.dumps({"type": "settlement.completed", "payload": payload}))]
    )
    [message] = queue.receive(name, 10, 0, visibility_timeout_s=0)
    stale = dataclasses.replace(message, receipt_handle="no-longer-valid")
    with pytest.raises(QueueError, match="ReceiptHandleIsInvalid"):  # what the worker meets
        queue.delete(name, stale.receipt_handle)
    worker = p.worker("settlement_compute")
    assert worker.process(stale) is True  # handled; the delete failed and was logged
    [again] = queue.receive(name, 10, 0)  # it comes back
    assert worker.process(again) is True and queue.receive(name, 10, 0) == []
    runs = "SELECT count(*) FROM crypto.job_runs WHERE job = 'settlement.follow_up' AND status = 'SUCCEEDED'"
    assert p.scalar(runs) == 2
