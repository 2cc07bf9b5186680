"""SQS worker: `python -m batch.worker --queue eod_fetch` (a key of Settings.queue_names,
or the full queue name).

Long-polls in batches; each message is an envelope {type, version, id, attempt,
occurred_at, payload}. The event catalogue says which message types the queue carries
and which job each one runs; the worker validates the payload with the topic's model
and runs that job (myapi.jobs.definitions.Jobs.handle), the same job the /internal
routes run. The message is deleted only after the job returned (so after its commit). While a handler runs, a
heartbeat extends the message's visibility. A failure leaves the message to come back
after a back-off; after maxReceiveCount deliveries SQS moves it to the DLQ (poison
messages — unparsable or of an unknown type — go the same way). SIGTERM/SIGINT: finish
the message in hand, then exit.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from typing import Any

from batch.runtime import batch_process
from myapi.container import Container
from myapi.core.errors import AppError
from myapi.core.request_context import reset_request_id, set_request_id
from myapi.events.catalogue import QueueKey, Topic, consumed_queues, topics_for
from myapi.jobs.definitions import InvalidPayloadError
from myapi.providers.queue import QueueError, ReceivedMessage

logger = logging.getLogger("batch.worker")

MAX_BACKOFF_S = 300


class PoisonMessageError(ValueError):
    """The message cannot be handled by any code of ours, however often it is retried."""


def parse_envelope(body: str, accepted: frozenset[Topic]) -> dict[str, Any]:
    try:
        envelope = json.loads(body)
    except json.JSONDecodeError as exc:
        raise PoisonMessageError("body is not JSON") from exc
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payload", {}), dict):
        raise PoisonMessageError("envelope is not an object with an object payload")
    kind = envelope.get("type")
    if kind not in {str(t) for t in accepted}:
        raise PoisonMessageError(f"unknown message type {kind!r} for this queue")
    envelope["type"] = Topic(kind)
    envelope.setdefault("payload", {})
    return envelope


class Worker:
    def __init__(
        self,
        container: Container,
        queue_key: str,
        stop: threading.Event | None = None,
    ) -> None:
        settings = container.settings()
        names = settings.queue_names
        self.queue_name = names.get(queue_key, queue_key)
        key = next((k for k, v in names.items() if v == self.queue_name), queue_key)
        consumed = {str(q) for q in consumed_queues()}
        self.accepted = topics_for(QueueKey(key)) if key in consumed else frozenset()
        self.container = container
        self.queue = container.queue()
        self.jobs = container.jobs()
        self.stop = stop or threading.Event()
        self.visibility_s = settings.sqs_visibility_timeout_s
        self.max_messages = settings.worker_max_messages
        self.wait_s = settings.sqs_wait_time_s

    def run_forever(self) -> None:
        logger.info("worker started on %s", self.queue_name)
        while not self.stop.is_set():
            try:
                self.poll_once(self.wait_s)
            except QueueError as exc:
                logger.warning("receive failed: %s", exc)
                self.stop.wait(2.0)
        logger.info("worker on %s stopped", self.queue_name)

    def poll_once(self, wait_time_s: int = 0) -> int:
        """Receive one batch and handle it; returns how many messages were handled."""
        messages = self.queue.receive(
            self.queue_name, self.max_messages, wait_time_s, visibility_timeout_s=self.visibility_s
        )
        handled = 0
        for message in messages:
            if self.stop.is_set():
                # Not started: make it visible again at once for another worker.
                self.queue.change_visibility(self.queue_name, message.receipt_handle, 0)
                continue
            if self.process(message):
                handled += 1
        return handled

    def drain(self, max_rounds: int = 100) -> int:
        """Handle messages until the queue has none visible (tests, one-shot runs)."""
        total = 0
        for _ in range(max_rounds):
            messages = self.queue.receive(
                self.queue_name, self.max_messages, 0, visibility_timeout_s=self.visibility_s
            )
            if not messages:
                break
            total += sum(1 for m in messages if self.process(m))
        return total

    def process(self, message: ReceivedMessage) -> bool:
        token = set_request_id(f"msg-{message.message_id}")
        try:
            try:
                envelope = parse_envelope(message.body, self.accepted)
            except PoisonMessageError as exc:
                logger.error(
                    "poison message (delivery %d): %s", message.receive_count, exc,
                    extra={"queue": self.queue_name, "message_id": message.message_id},
                )  # fmt: skip
                # Let SQS count the deliveries and dead-letter it after maxReceiveCount.
                self.queue.change_visibility(self.queue_name, message.receipt_handle, 0)
                return False
            heartbeat = _Heartbeat(self, message)
            heartbeat.start()
            try:
                details = self.jobs.handle(envelope["type"], envelope["payload"]).details
            except InvalidPayloadError as exc:
                heartbeat.stop()
                logger.error(
                    "poison message (delivery %d): %s",
                    message.receive_count, exc,
                    extra={"queue": self.queue_name, "message_id": message.message_id},
                )  # fmt: skip
                self.queue.change_visibility(self.queue_name, message.receipt_handle, 0)
                return False
            except AppError as exc:
                heartbeat.stop()
                if exc.retry_from_queue:
                    return self._back_off(message, envelope["type"], exc)
                # Refused by the cycle's rules (e.g. CYCLE_002; the job run is recorded as
                # FAILED with the code): redelivery cannot make the step due; the tick asks
                # again when it is.
                logger.warning(
                    "%s refused (%s): %s", envelope["type"], exc.code, exc.message,
                    extra={"queue": self.queue_name, "message_id": message.message_id,
                           "details": exc.details},
                )  # fmt: skip
                self._delete(message)
                return False
            except Exception as exc:
                heartbeat.stop()
                return self._back_off(message, envelope["type"], exc)
            heartbeat.stop()
            # Delete only after the handler's unit of work committed.
            self._delete(message)
            logger.info(
                "handled %s", envelope["type"],
                extra={"queue": self.queue_name, "message_id": message.message_id,
                       "delivery": message.receive_count, "details": details},
            )  # fmt: skip
            return True
        finally:
            reset_request_id(token)

    def _delete(self, message: ReceivedMessage) -> None:
        """Delete a handled message. When that fails (SQS unreachable, or the receipt
        expired because the message's visibility lapsed and another worker received
        it), the message comes back and its job runs again: every job is idempotent, so
        that repeats nothing; the failure is logged, not raised."""
        try:
            self.queue.delete(self.queue_name, message.receipt_handle)
        except QueueError as exc:
            logger.warning(
                "handled message %s not deleted (it will be delivered again): %s", message.message_id, exc,
                extra={"queue": self.queue_name, "message_id": message.message_id},
            )  # fmt: skip

    def _back_off(self, message: ReceivedMessage, kind: str, exc: Exception) -> bool:
        """Leave a failed message to come back after an exponential back-off (SQS moves
        it to the DLQ after maxReceiveCount deliveries)."""
        backoff = min(MAX_BACKOFF_S, 5 * 2 ** (message.receive_count - 1))
        logger.exception(
            "handler %s failed (delivery %d), retry in %ss: %s",
            kind, message.receive_count, backoff, exc,
            extra={"queue": self.queue_name, "message_id": message.message_id},
        )  # fmt: skip
        try:
            self.queue.change_visibility(self.queue_name, message.receipt_handle, backoff)
        except QueueError:
            logger.warning("could not back off message %s", message.message_id)
        return False


class _Heartbeat:
    """Extends a message's visibility while its handler runs (long jobs)."""

    def __init__(self, worker: Worker, message: ReceivedMessage) -> None:
        self._worker = worker
        self._message = message
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        if self._worker.visibility_s > 0:
            self._thread.start()

    def stop(self) -> None:
        self._done.set()

    def _run(self) -> None:
        interval = max(1.0, self._worker.visibility_s / 2)
        while not self._done.wait(interval):
            try:
                self._worker.queue.change_visibility(
                    self._worker.queue_name, self._message.receipt_handle, self._worker.visibility_s
                )
            except QueueError as exc:
                logger.warning("visibility extension failed: %s", exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batch.worker", description=__doc__)
    keys = ", ".join(sorted(consumed_queues()))
    parser.add_argument("--queue", required=True, help=f"queue key ({keys}) or name")
    args = parser.parse_args(argv)
    with batch_process() as runtime:
        worker = Worker(runtime.container, args.queue, stop=runtime.stop)
        if not worker.accepted:
            logger.error("no handlers for queue %s", args.queue)
            return 2
        worker.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
