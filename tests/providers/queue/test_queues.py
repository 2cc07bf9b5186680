"""The SQS adapter and `batch.queues ensure` against a real SQS wire endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from myapi.core.config import Settings
from myapi.providers.queue import (
    OutgoingMessage,
    QueueError,
    SqsQueue,
    dlq_name_for,
    ensure_queues,
    make_sqs_client,
)
from scripts.devstack import ROOT
from tests.support.app import make_settings


@pytest.fixture
def fresh_settings(settings: Settings) -> Settings:
    """Settings with a queue prefix of their own, so each test sees new queues."""
    return make_settings(
        settings.database_url,
        settings.sqs_endpoint_url or "",
        queue_prefix=f"t{uuid.uuid4().hex[:8]}-",
        sqs_max_receive_count=2,
        sqs_visibility_timeout_s=30,
        # A FIFO queue (any queue is FIFO by its name; the relay gives every event a
        # group and a dedup id): the FIFO paths of the adapter, DLQ and redrive.
        queue_eod_fetch="q-eod-fetch.fifo",
    )


def test_dlq_names_keep_the_fifo_suffix() -> None:
    assert dlq_name_for("q-eod-fetch") == "q-eod-fetch-dlq"
    assert dlq_name_for("q-eod-fetch.fifo") == "q-eod-fetch-dlq.fifo"


def test_ensure_creates_every_queue_with_dlq_and_redrive_and_is_idempotent(
    fresh_settings: Settings,
) -> None:
    client = make_sqs_client(fresh_settings)
    first = ensure_queues(client, fresh_settings)
    assert {q.key for q in first} == {"eod_fetch", "settlement_compute", "rewards_saga"}
    assert [q.name.endswith(".fifo") for q in first if q.key == "eod_fetch"] == [True]
    assert all(q.created for q in first)
    for q in first:
        attrs = client.get_queue_attributes(QueueUrl=q.url, AttributeNames=["All"])["Attributes"]
        policy = json.loads(attrs["RedrivePolicy"])
        dlq_arn = client.get_queue_attributes(QueueUrl=q.dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        assert policy["deadLetterTargetArn"] == dlq_arn
        assert int(policy["maxReceiveCount"]) == 2
        assert attrs["VisibilityTimeout"] == "30"
        if q.name.endswith(".fifo"):
            assert attrs["FifoQueue"] == "true"
            assert attrs["ContentBasedDeduplication"] == "false"

    second = ensure_queues(client, fresh_settings)
    assert [q.url for q in second] == [q.url for q in first]
    assert not any(q.created for q in second)


def test_fifo_batch_carries_group_and_dedup_ids(fresh_settings: Settings) -> None:
    client = make_sqs_client(fresh_settings)
    ensure_queues(client, fresh_settings)
    queue = SqsQueue(client)
    name = fresh_settings.queue_names["eod_fetch"]
    result = queue.send_batch(
        name,
        [
            OutgoingMessage('{"n": 1}', group_id="user-1", dedup_id="award-1"),
            OutgoingMessage('{"n": 2}', group_id="user-2", dedup_id="award-2"),
            # Same dedup id again inside the window: SQS keeps only one.
            OutgoingMessage('{"n": 1}', group_id="user-1", dedup_id="award-1"),
        ],
    )
    assert result.failed == {}
    received = []
    for _ in range(5):
        received += queue.receive(name, wait_time_s=0)
        if len(received) >= 2:
            break
    assert sorted(m.group_id or "" for m in received) == ["user-1", "user-2"]
    assert sorted(m.body for m in received) == ['{"n": 1}', '{"n": 2}']
    for m in received:
        queue.delete(name, m.receipt_handle)
    assert queue.receive(name, wait_time_s=0) == []


def test_fifo_messages_without_ids_and_oversized_batches_are_refused(
    queue: SqsQueue, settings: Settings
) -> None:
    with pytest.raises(ValueError, match="group_id"):
        queue.send_batch("q-any.fifo", [OutgoingMessage("x")])
    with pytest.raises(ValueError, match="at most 10"):
        queue.send_batch(settings.queue_names["eod_fetch"], [OutgoingMessage("x")] * 11)


def test_a_message_received_more_than_max_receive_count_lands_in_the_dlq(
    fresh_settings: Settings,
) -> None:
    client = make_sqs_client(fresh_settings)
    ensure_queues(client, fresh_settings)
    queue = SqsQueue(client)
    name = fresh_settings.queue_names["settlement_compute"]
    queue.send_batch(name, [OutgoingMessage('{"trading_day": "2026-11-23"}')])

    counts = []
    for _ in range(10):  # a consumer that keeps failing: receive, never delete
        messages = queue.receive(name, wait_time_s=0, visibility_timeout_s=0)
        if not messages:
            break
        counts.append(messages[0].receive_count)
    assert counts == [1, 2]  # maxReceiveCount = 2, then it is gone from the main queue

    dead = queue.receive(dlq_name_for(name), wait_time_s=0)
    assert [m.body for m in dead] == ['{"trading_day": "2026-11-23"}']


def test_change_visibility_hides_and_releases_a_message(fresh_settings: Settings) -> None:
    client = make_sqs_client(fresh_settings)
    ensure_queues(client, fresh_settings)
    queue = SqsQueue(client)
    name = fresh_settings.queue_names["settlement_compute"]
    queue.send_batch(name, [OutgoingMessage("job")])
    [msg] = queue.receive(name, wait_time_s=0)
    queue.change_visibility(name, msg.receipt_handle, 300)  # a long job extends its lease
    assert queue.receive(name, wait_time_s=0) == []
    queue.change_visibility(name, msg.receipt_handle, 0)  # give it back at once
    deadline = time.monotonic() + 5
    again = []
    while not again and time.monotonic() < deadline:
        again = queue.receive(name, wait_time_s=0)
    assert [m.body for m in again] == ["job"]
    assert queue.depth(name)["in_flight"] == 1


def test_unknown_queue_is_a_queue_error(queue: SqsQueue) -> None:
    with pytest.raises(QueueError, match="not available"):
        queue.send_batch("no-such-queue", [OutgoingMessage("x")])


def test_cli_ensure_runs_as_a_command(fresh_settings: Settings) -> None:
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "SQS_ENDPOINT_URL": fresh_settings.sqs_endpoint_url or "",
        "QUEUE_PREFIX": fresh_settings.queue_prefix,
        "QUEUE_EOD_FETCH": fresh_settings.queue_eod_fetch,
    }
    out = subprocess.run(
        [sys.executable, "-m", "batch.queues", "ensure"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    # Only the queues a worker consumes (the event catalogue's consumed_queues()).
    assert result["ok"] is True
    assert sorted(q["queue"] for q in result["queues"]) == sorted(
        fresh_settings.queue_names[k] for k in ("eod_fetch", "rewards_saga", "settlement_compute")
    )
    status = subprocess.run(
        [sys.executable, "-m", "batch.queues", "status"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert len(json.loads(status.stdout)["queues"]) == 6  # three queues, each with its DLQ


def test_redrive_moves_dead_letters_back_to_their_queue(fresh_settings: Settings) -> None:
    from batch.queues import peek, redrive

    client = make_sqs_client(fresh_settings)
    ensure_queues(client, fresh_settings)
    queue = SqsQueue(client)
    name = fresh_settings.queue_names["eod_fetch"]  # FIFO: the DLQ keeps .fifo
    queue.send_batch(
        dlq_name_for(name),
        [OutgoingMessage(f'{{"n": {i}}}', group_id="user-1", dedup_id=f"d{i}") for i in range(3)],
    )
    assert [row["body"] for row in peek(fresh_settings, "eod_fetch", 10)] == [
        '{"n": 0}', '{"n": 1}', '{"n": 2}'
    ]  # fmt: skip
    [summary] = redrive(fresh_settings, "eod_fetch", 100)
    assert summary["moved"] == 3
    assert sorted(m.body for m in queue.receive(name, 10, 0)) == ['{"n": 0}', '{"n": 1}', '{"n": 2}']
    assert queue.receive(dlq_name_for(name), 10, 0) == []
