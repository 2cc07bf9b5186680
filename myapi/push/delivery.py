"""The push delivery pass: new notifications to the players' devices, each pushed to
each device at most once by any number of passes, duplicate runs or workers at once.

Every new notification gets one `push_deliveries` row per device of its player, queued
by a trigger in the producer's own transaction (see myapi/push/models.py). A pass
(`deliver_once`, the job `push.deliver`) then repeats, up to PUSH_BATCH_SIZE rows:

1. **claim** (one short transaction): up to PUSH_CLAIM_SIZE due rows (PENDING,
   `next_attempt_at` passed, no live lease), locked FOR UPDATE SKIP LOCKED, so two
   passes never take the same row. Each is decided by the rules, now:
   device gone or no longer the player's, player deactivated, category muted, push
   disabled (PUSH_PROVIDER=none) -> SKIPPED; made more than PUSH_MAX_AGE_H ago ->
   EXPIRED; inside the player's quiet hours -> deferred to their end (still PENDING);
   else leased to this pass (`lease_token`, `lease_until` = the worst case of sending
   them all) with one more attempt counted. Commit.
2. **send** each leased row, outside any transaction, provided the lease still covers
   the sender's worst case (else the rest are released for the next pass). After
   STOP_AFTER_RETRIES_IN_A_ROW sends in a row answered RETRY (the provider down) the
   pass stops, releasing the rest: a pass never holds its worker long.
3. **record** each outcome in a transaction of its own, only under our lease: SENT;
   INVALID_TOKEN (the device is deleted, its other pending pushes skipped); RETRY
   (PENDING again after PUSH_RETRY_BASE_S * 2^(attempts-1), at most PUSH_RETRY_MAX_S,
   or the provider's Retry-After if longer; FAILED after PUSH_MAX_ATTEMPTS); REJECTED
   -> FAILED.

At most once per device: a row is sent only under a lease that outlasts the send, and a
lease is only taken over once expired. The one exception is a crash between a send and
its record: the lease expires and the row is sent again (attempts counts it).
Finished rows older than PUSH_RETENTION_DAYS are purged by the pass.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from myapi.core.clock import Clock
from myapi.core.config import Settings
from myapi.core.db import unit_of_work
from myapi.providers.push import PushOutcome, PushResult, PushSender, token_hint
from myapi.push.repository import DueDelivery, PushRepository
from myapi.push.service import effective_quiet_hours

logger = logging.getLogger(__name__)

LEASE_MARGIN_S = 10.0
# A pass stops after this many sends in a row came back RETRY (the provider is down or
# refusing us): the rest wait for a later pass instead of each taking its worst case,
# so a pass run by a worker after its job never holds that worker for long.
STOP_AFTER_RETRIES_IN_A_ROW = 3
PURGE_BATCH = 1000
MAX_BODY_CHARS = 1000
# Keys FCM reserves in a message's data.
RESERVED_DATA_KEYS = frozenset({"from", "notification", "message_type"})
RESERVED_DATA_PREFIXES = ("google", "gcm")


@dataclass
class _Pass:
    counts: Counter[str] = field(default_factory=Counter)
    retries_in_a_row: int = 0


@dataclass(frozen=True)
class Leased:
    delivery: DueDelivery
    lease_token: uuid.UUID
    lease_until: datetime


def push_data(delivery: DueDelivery) -> dict[str, str]:
    """The message's data: the notification's id and category, and its own data with
    every value a string (FCM data values are strings; nested values as JSON)."""
    data = {"notification_id": str(delivery.notification_id), "category": delivery.category}
    for key, value in delivery.data.items():
        if key in RESERVED_DATA_KEYS or key.startswith(RESERVED_DATA_PREFIXES) or key in data:
            continue
        data[key] = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return data


class PushDelivery:
    """Opens its own units of work (the sends happen between them)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Clock,
        settings: Settings,
        sender: PushSender | None,
    ) -> None:
        self._factory = factory
        self._clock = clock
        self._settings = settings
        self._sender = sender

    def due(self) -> bool:
        """Is a delivery due now (the reconcile tick runs a pass only then)?"""
        with unit_of_work(self._factory) as session:
            return PushRepository(session).due_exists(self._clock.now())

    def deliver_once(self) -> dict[str, Any]:
        """One bounded pass (see the module docstring); returns what happened, counted."""
        state = _Pass()
        counts = state.counts
        left = self._settings.push_batch_size
        while left > 0:
            claimed, leased = self._claim(min(self._settings.push_claim_size, left), counts)
            if not claimed:
                break
            left -= claimed
            if not self._send_all(leased, state):
                counts["stopped_after_retries"] = 1
                break
        counts["purged"] += self._purge()
        return {"provider": self._sender.name if self._sender else "none", **dict(sorted(counts.items()))}

    # --- 1. claim -----------------------------------------------------------------------
    def _claim(self, limit: int, counts: Counter[str]) -> tuple[int, list[Leased]]:
        now = self._clock.now()
        lease_token = uuid.uuid4()
        with unit_of_work(self._factory) as session:
            repo = PushRepository(session)
            rows = repo.claim(now, limit)
            to_send: list[DueDelivery] = []
            closed: dict[tuple[str, str], list[tuple[int, int]]] = {}
            deferred: dict[datetime, list[tuple[int, int]]] = {}
            for row in rows:
                verdict = self._decide(row, now)
                if verdict is None:
                    to_send.append(row)
                elif isinstance(verdict, datetime):
                    deferred.setdefault(verdict, []).append(row.key)
                    counts["deferred"] += 1
                else:
                    closed.setdefault(verdict, []).append(row.key)
                    counts[verdict[0].lower()] += 1
            for (status, reason), keys in closed.items():
                repo.close(keys, status, reason, now)
            for until, keys in deferred.items():
                repo.defer(keys, until, now)
            lease_until = now
            if to_send and self._sender is not None:
                lease_s = len(to_send) * self._sender.max_send_s + LEASE_MARGIN_S
                lease_until = now + timedelta(seconds=lease_s)
                repo.lease([r.key for r in to_send], lease_token, lease_until, now)
        return len(rows), [Leased(r, lease_token, lease_until) for r in to_send]

    def _decide(self, row: DueDelivery, now: datetime) -> tuple[str, str] | datetime | None:
        """None: send now; a datetime: not before then (quiet hours); else (status, why)."""
        if row.device_user_id is None or row.token is None:
            return "SKIPPED", "device gone"
        if row.device_user_id != row.user_id:
            return "SKIPPED", "device belongs to another player now"
        if not row.user_active:
            return "SKIPPED", "player deactivated"
        if row.category in row.muted_categories:
            return "SKIPPED", "category muted"
        if self._sender is None:
            return "SKIPPED", "push disabled (PUSH_PROVIDER=none)"
        if now - row.notified_at > timedelta(hours=self._settings.push_max_age_h):
            return "EXPIRED", f"not pushed within {self._settings.push_max_age_h} h"
        quiet = effective_quiet_hours(
            self._settings, has_preferences=row.has_preferences, start=row.quiet_start, end=row.quiet_end
        )
        if quiet is not None and quiet.contains(now):
            return quiet.end_after(now)
        return None

    # --- 2. send, 3. record -------------------------------------------------------------
    def _send_all(self, leased: list[Leased], state: _Pass) -> bool:
        """Send the leased rows; False when the pass should stop (the provider failing).
        Rows not sent are released: claimable again at once, their attempt not counted."""
        sender, counts = self._sender, state.counts
        for i, item in enumerate(leased):
            if sender is None:
                break
            failing = state.retries_in_a_row >= STOP_AFTER_RETRIES_IN_A_ROW
            # Near the lease's end a send could outlive it and another pass take the row.
            expiring = (item.lease_until - self._clock.now()).total_seconds() < sender.max_send_s
            if failing or expiring:
                self._release(leased[i:])
                counts["released"] += len(leased) - i
                return not failing
            d = item.delivery
            token = d.token or ""
            try:
                outcome = sender.send(token, d.title, d.body[:MAX_BODY_CHARS], push_data(d))
            except Exception as exc:  # a sender bug must not stop the pass or lose the row
                logger.exception("push sender %s failed on device %s", sender.name, token_hint(token))
                outcome = PushOutcome.retry(f"sender error: {type(exc).__name__}")
            counts[self._record(item, outcome)] += 1
            state.retries_in_a_row = state.retries_in_a_row + 1 if outcome.result is PushResult.RETRY else 0
        return state.retries_in_a_row < STOP_AFTER_RETRIES_IN_A_ROW

    def _record(self, item: Leased, outcome: PushOutcome) -> str:
        d, now = item.delivery, self._clock.now()
        attempts = d.attempts + 1
        with unit_of_work(self._factory) as session:
            repo = PushRepository(session)
            if outcome.result is PushResult.SENT:
                kept = repo.record(d.key, item.lease_token, status="SENT", now=now)
                label = "sent"
            elif outcome.result is PushResult.INVALID_TOKEN:
                kept = repo.record(
                    d.key, item.lease_token, status="INVALID_TOKEN", now=now, error=outcome.detail
                )
                repo.delete_device_with_token(d.device_id, d.token or "", now, "device token invalid")
                label = "invalid_token"
            elif outcome.result is PushResult.REJECTED or attempts >= self._settings.push_max_attempts:
                kept = repo.record(d.key, item.lease_token, status="FAILED", now=now, error=outcome.detail)
                label = "failed"
            else:
                wait = self._backoff(attempts, outcome.retry_after_s)
                kept = repo.record(
                    d.key, item.lease_token, status="PENDING", now=now, error=outcome.detail,
                    next_attempt_at=now + timedelta(seconds=wait),
                )  # fmt: skip
                label = "retry"
        if not kept:
            logger.warning(
                "push delivery %s lost its lease before its outcome (%s) was recorded", d.key, outcome.result
            )
            return "lease_lost"
        return label

    def _backoff(self, attempts: int, retry_after_s: float | None) -> float:
        backoff = min(self._settings.push_retry_max_s, self._settings.push_retry_base_s * 2 ** (attempts - 1))
        return float(max(backoff, retry_after_s or 0.0))

    def _release(self, leased: list[Leased]) -> None:
        with unit_of_work(self._factory) as session:
            repo = PushRepository(session)
            for item in leased:
                repo.release([item.delivery.key], item.lease_token, self._clock.now())

    def _purge(self) -> int:
        before = self._clock.now() - timedelta(days=self._settings.push_retention_days)
        with unit_of_work(self._factory) as session:
            return PushRepository(session).purge_finished(before, PURGE_BATCH)
