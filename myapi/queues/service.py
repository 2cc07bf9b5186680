"""The queues of Settings.queue_names and their dead-letter queues, as operators see
them: depths, a peek at what sits in a DLQ, and a redrive back to the source queue.

No database: the queue service is the state. Peeking and redriving receive messages
(hiding them for HOLD_S), and every message they do not move is made visible again
before they return (visibility 0), so a peek never takes anything away and a crash
mid-way hides a message for HOLD_S at most.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from myapi.core.config import Settings
from myapi.core.errors import AppError, NotFoundError, ServiceUnavailableError
from myapi.providers.queue import (
    MAX_BATCH_SIZE,
    OutgoingMessage,
    QueueError,
    QueueMissingError,
    ReceivedMessage,
    SqsQueue,
    dlq_name_for,
)

logger = logging.getLogger("myapi.queues")

HOLD_S = 30  # how long a received DLQ message stays hidden while a peek or redrive looks
REDRIVE_SCAN_MAX = 1000  # DLQ messages a redrive by id looks through at most


class UnknownQueueError(NotFoundError):
    code = "QUEUE_404"
    message = "No such queue"


class QueueNotCreatedError(AppError):
    status_code = 409
    code = "QUEUE_409"
    message = "The queue does not exist yet (python -m batch.queues ensure creates it)"


class QueueUnavailableError(ServiceUnavailableError):
    code = "QUEUE_503"
    message = "The queue service is unreachable or refused the call; nothing was changed"


@dataclass(frozen=True)
class QueueDepth:
    name: str
    exists: bool
    visible: int = 0
    in_flight: int = 0
    delayed: int = 0


@dataclass(frozen=True)
class QueueStatus:
    key: str
    queue: QueueDepth
    dlq: QueueDepth


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    body: str
    attributes: dict[str, str]
    receive_count: int
    sent_at: datetime | None
    group_id: str | None


RedriveStatus = Literal["MOVED", "FAILED", "NOT_FOUND"]


@dataclass(frozen=True)
class RedriveOutcome:
    message_id: str
    status: RedriveStatus
    error: str | None = None


class QueueService:
    def __init__(self, queue: SqsQueue, settings: Settings) -> None:
        self._queue = queue
        self._names = settings.queue_names
        # A short long-poll: a short poll may miss messages on SQS; 0 where the settings say so.
        self._wait_s = min(1, settings.sqs_wait_time_s)

    # --- names -------------------------------------------------------------------
    def keys(self) -> list[str]:
        return list(self._names)

    def key_for(self, key_or_name: str) -> str:
        """The queue key for a key or a configured queue name (UnknownQueueError otherwise)."""
        if key_or_name in self._names:
            return key_or_name
        for key, name in self._names.items():
            if key_or_name in (name, dlq_name_for(name)):
                return key
        raise UnknownQueueError(details={"queue": key_or_name, "known": sorted(self._names)})

    def names(self, key: str) -> tuple[str, str]:
        """(source queue, its DLQ) of a key."""
        source = self._names[self.key_for(key)]
        return source, dlq_name_for(source)

    # --- depths ------------------------------------------------------------------
    def overview(self) -> list[QueueStatus]:
        """Every queue of Settings.queue_names and its DLQ, with their approximate depths
        (visible, in flight, delayed); one not created yet is `exists` false.
        QueueUnavailableError when the queue service cannot be asked."""
        statuses: list[QueueStatus] = []
        for key in self._names:
            source, dlq = self.names(key)
            statuses.append(QueueStatus(key, self._depth(source), self._depth(dlq)))
        return statuses

    def _depth(self, name: str) -> QueueDepth:
        try:
            counts = self._queue.depth(name)
        except QueueMissingError:
            return QueueDepth(name, exists=False)
        except QueueError as exc:
            raise _unavailable(name, exc) from exc
        return QueueDepth(name, True, counts["visible"], counts["in_flight"], counts["delayed"])

    # --- the DLQ -----------------------------------------------------------------
    def peek(self, key: str, limit: int) -> list[DeadLetter]:
        """Up to `limit` messages of the key's DLQ, oldest delivery order as SQS hands
        them out, left in place: each is received (hidden for HOLD_S) and made visible
        again before this returns, whatever happens. Nothing is consumed, though each
        look counts as a receive in the DLQ's own receive count."""
        _source, dlq = self.names(key)
        held: list[ReceivedMessage] = []
        try:
            self._collect(dlq, limit, held)
        except QueueMissingError as exc:
            raise QueueNotCreatedError(details={"queue": dlq}) from exc
        except QueueError as exc:
            raise _unavailable(dlq, exc) from exc
        finally:
            self._release(dlq, held)
        return [_dead_letter(m) for m in held]

    def _collect(self, dlq: str, limit: int, held: list[ReceivedMessage]) -> None:
        """Receive up to `limit` distinct messages into `held` (filled as they come, so
        that whatever was received is released even if a later receive fails)."""
        seen: set[str] = set()
        while len(seen) < limit:
            batch = self._queue.receive(
                dlq, min(MAX_BATCH_SIZE, limit - len(seen)), self._wait_s, visibility_timeout_s=HOLD_S
            )
            fresh = [m for m in batch if m.message_id not in seen]
            if not fresh:
                break
            seen.update(m.message_id for m in fresh)
            held += fresh

    def redrive(self, key: str, limit: int, message_ids: Sequence[str] | None = None) -> list[RedriveOutcome]:
        """Move messages of the key's DLQ back to its queue: the ones named in
        `message_ids` (looking through at most REDRIVE_SCAN_MAX messages; those not found
        are NOT_FOUND), or else up to `limit` of them. Each is sent to the source queue
        (body, attributes and FIFO group kept) and only then deleted from the DLQ: a
        crash in between duplicates a message, never loses one (the handlers are
        idempotent). A message whose send fails stays in the DLQ, visible again
        (FAILED). Every message looked at and not moved is made visible again.
        QueueUnavailableError when the queue service fails before anything moved; a
        failure later ends the redrive with what happened so far."""
        source, dlq = self.names(key)
        wanted = list(dict.fromkeys(message_ids)) if message_ids else None
        wanted_set = set(wanted or ())
        target = len(wanted) if wanted is not None else limit
        scan_max = REDRIVE_SCAN_MAX if wanted is not None else limit
        # A new FIFO deduplication id per redrive: a message redriven again within SQS's
        # 5-minute window (it failed again) must not be dropped as a duplicate.
        run = uuid.uuid4().hex[:12]
        outcomes: dict[str, RedriveOutcome] = {}
        held: list[ReceivedMessage] = []
        seen: set[str] = set()
        picked: list[ReceivedMessage] = []
        try:
            while len(outcomes) < target and len(seen) < scan_max:
                left = target - len(outcomes) if wanted is None else scan_max - len(seen)
                batch = self._queue.receive(
                    dlq, min(MAX_BATCH_SIZE, left), self._wait_s, visibility_timeout_s=HOLD_S
                )
                fresh = [m for m in batch if m.message_id not in seen]
                if not fresh:
                    break
                seen.update(m.message_id for m in fresh)
                room = target - len(outcomes)
                picked = [m for m in fresh if wanted is None or m.message_id in wanted_set][:room]
                held += [m for m in fresh if m not in picked]
                outcomes.update(self._move(source, dlq, picked, run, held))
                if wanted is not None and wanted_set <= seen:
                    break
        except QueueMissingError as exc:
            raise QueueNotCreatedError(details={"queue": dlq}) from exc
        except QueueError as exc:
            if not any(o.status == "MOVED" for o in outcomes.values()):
                raise _unavailable(dlq, exc) from exc
            logger.warning("redrive from %s stopped: %s", dlq, exc)
            for message in picked:
                if message.message_id not in outcomes:
                    error = f"not moved, the queue service failed: {exc}"[:300]
                    outcomes[message.message_id] = RedriveOutcome(message.message_id, "FAILED", error)
        finally:
            self._release(dlq, held)
        if wanted is not None:
            return [outcomes.get(i, RedriveOutcome(i, "NOT_FOUND")) for i in wanted]
        return list(outcomes.values())

    def _move(
        self, source: str, dlq: str, messages: list[ReceivedMessage], run: str, held: list[ReceivedMessage]
    ) -> dict[str, RedriveOutcome]:
        if not messages:
            return {}
        outgoing = [
            OutgoingMessage(
                body=m.body,
                group_id=m.group_id or "redrive",
                dedup_id=f"redrive-{run}-{m.message_id}"[:128],
                attributes=m.attributes,
            )
            for m in messages
        ]
        try:
            sent = self._queue.send_batch(source, outgoing)
        except QueueError:
            held.extend(messages)  # none was sent: they stay in the DLQ
            raise
        outcomes: dict[str, RedriveOutcome] = {}
        for index, message in enumerate(messages):
            if index not in sent.sent:
                held.append(message)  # still in the DLQ: visible again below
                error = sent.failed.get(index, "not sent")
                outcomes[message.message_id] = RedriveOutcome(message.message_id, "FAILED", error)
                continue
            try:
                self._queue.delete(dlq, message.receipt_handle)
            except QueueError as exc:
                # Sent but still in the DLQ: a later redrive sends it again (idempotent handlers).
                note = f"sent, but the DLQ copy could not be deleted: {exc}"[:300]
                outcomes[message.message_id] = RedriveOutcome(message.message_id, "MOVED", note)
                continue
            outcomes[message.message_id] = RedriveOutcome(message.message_id, "MOVED")
        return outcomes

    def _release(self, dlq: str, messages: list[ReceivedMessage]) -> None:
        """Make received messages visible again at once (best effort: one that cannot be
        released comes back by itself after HOLD_S)."""
        for message in messages:
            try:
                self._queue.change_visibility(dlq, message.receipt_handle, 0)
            except QueueError as exc:
                logger.warning("could not release %s in %s: %s", message.message_id, dlq, exc)


def _unavailable(queue: str, exc: QueueError) -> QueueUnavailableError:
    # The cause (endpoint, credentials) goes to the log, not to the answer.
    logger.warning("queue service call on %s failed: %s", queue, exc)
    return QueueUnavailableError(details={"queue": queue})


def _dead_letter(m: ReceivedMessage) -> DeadLetter:
    return DeadLetter(m.message_id, m.body, m.attributes, m.receive_count, m.sent_at, m.group_id)
