"""The outbox relay: publishes committed events to SQS (SPEC §7), routed by the
event catalogue.

One pass: claim due rows (FOR UPDATE SKIP LOCKED), send them with SendMessageBatch
(≤ 10 per call, FIFO group/dedup ids from the row), mark what was sent as published and
what failed with attempts/last_error and an exponential back-off — all in one
transaction. A crash after sending but before the commit leaves the rows unpublished,
so they are sent again (at-least-once); FIFO dedup ids and idempotent consumers absorb
the duplicate. Rows of a topic without a consumer are marked done without being sent
(`last_error` = NOT_SENT_NOTE, so they stay distinguishable from sent rows); rows of a
topic the catalogue does not know are kept with the error (an operator's problem).

This is the one place that talks to SQS inside a transaction, on purpose: the row locks
of the claim are what keep two relays from sending the same row, and a lease (commit the
claim, send, then mark in a second transaction) would trade that for a lease timeout
that can expire mid-send and a third transaction per batch. The transaction is short
(one SendMessageBatch per 10 rows, SQS answers in milliseconds) and holds only the
claimed outbox rows, which no request writes to; see docs/architecture.md.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from myapi.core.clock import Clock
from myapi.core.config import Settings
from myapi.core.db import unit_of_work
from myapi.events.catalogue import spec_for
from myapi.outbox.models import OutboxEvent
from myapi.outbox.repository import OutboxClaimRepository
from myapi.providers.queue import MAX_BATCH_SIZE, OutgoingMessage, QueueError, SqsQueue

logger = logging.getLogger("myapi.outbox")

ENVELOPE_VERSION = 1
# last_error of a row done without sending: its topic has no consumer yet.
NOT_SENT_NOTE = "not sent: no consumer for this topic yet"


def envelope(event: OutboxEvent) -> str:
    return json.dumps(
        {
            "type": event.topic,
            "version": ENVELOPE_VERSION,
            "id": f"outbox-{event.id}",
            "attempt": event.attempts + 1,
            "occurred_at": event.created_at.isoformat(),
            "payload": event.payload,
        },
        separators=(",", ":"),
        default=str,
    )


@dataclass
class RelayResult:
    claimed: int = 0
    published: int = 0
    failed: int = 0
    unrouted: int = 0  # known topics without a consumer: marked published, not sent
    errors: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "claimed": self.claimed,
            "published": self.published,
            "failed": self.failed,
            "unrouted": self.unrouted,
            "errors": self.errors,
        }


class OutboxRelay:
    def __init__(
        self,
        factory: sessionmaker[Session],
        queue: SqsQueue,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self._factory = factory
        self._queue = queue
        self._settings = settings
        self._clock = clock

    def _retry_at(self, now: datetime, attempts: int) -> datetime:
        delay = min(self._settings.outbox_max_backoff_s, 2 ** min(attempts, 16))
        return now + timedelta(seconds=delay)

    def lag(self) -> tuple[int, float]:
        """Unpublished rows and the age in seconds of the oldest (the outbox lag gauges)."""
        with unit_of_work(self._factory) as session:
            return OutboxClaimRepository(session).lag(self._clock.now())

    def publish_once(self, limit: int | None = None) -> RelayResult:
        """One pass over due rows; returns what happened."""
        result = RelayResult()
        with unit_of_work(self._factory) as session:
            repo = OutboxClaimRepository(session)
            now = self._clock.now()
            events = repo.claim(limit or self._settings.outbox_batch_size, now)
            result.claimed = len(events)
            by_queue: dict[str, list[OutboxEvent]] = defaultdict(list)
            published: list[int] = []
            unrouted: list[int] = []
            for event in events:
                spec = spec_for(event.topic)
                if spec is None:
                    repo.mark_failed(event.id, f"no queue for topic {event.topic!r}", self._retry_at(now, 16))
                    result.failed += 1
                elif spec.queue is None:
                    unrouted.append(event.id)
                else:
                    by_queue[self._settings.queue_names[spec.queue]].append(event)
            for queue_name, queued in by_queue.items():
                for start in range(0, len(queued), MAX_BATCH_SIZE):
                    chunk = queued[start : start + MAX_BATCH_SIZE]
                    messages = [
                        OutgoingMessage(
                            body=envelope(e),
                            group_id=e.group_id or e.topic,
                            dedup_id=e.dedup_id or f"outbox-{e.id}",
                            attributes={"type": e.topic},
                        )
                        for e in chunk
                    ]
                    try:
                        sent = self._queue.send_batch(queue_name, messages)
                    except QueueError as exc:
                        for e in chunk:
                            repo.mark_failed(e.id, str(exc), self._retry_at(now, e.attempts + 1))
                        result.failed += len(chunk)
                        result.errors[queue_name] = result.errors.get(queue_name, 0) + len(chunk)
                        logger.warning("outbox publish to %s failed: %s", queue_name, exc)
                        continue
                    published.extend(chunk[i].id for i in sent.sent)
                    for index, error in sent.failed.items():
                        e = chunk[index]
                        repo.mark_failed(e.id, error, self._retry_at(now, e.attempts + 1))
                        result.failed += 1
            repo.mark_published(published, self._clock.now())
            repo.mark_published(unrouted, self._clock.now(), note=NOT_SENT_NOTE)
            result.published, result.unrouted = len(published), len(unrouted)
        return result
