"""Raising operator alerts, and the alert check.

An occurrence of an alert is decided in one short transaction, posted outside any
transaction, and its outcome recorded in another:

1. `AlertsRepository.occur` (INSERT .. ON CONFLICT on the key, so under the key's row
   lock) counts the occurrence and claims the key for this caller when nobody holds a
   live claim and the last delivered message is older than ALERT_THROTTLE_S. Of two
   processes seeing the same condition at once, one claims; the other only counts.
2. The claimer posts the message — with "(+N more since HH:MM KST)" when N occurrences
   were held back — through the `AlertSink`, holding no transaction and no lock.
3. Delivered: `sent_at` (throttling starts), the reported occurrences leave `pending`.
   Failed (the sink raised): logged, the claim released, the alert stays pending and is
   posted by the next occurrence — for the checked conditions, the next check that still
   sees them; for a job failure, the next check retries it.

At least once: the claim is a lease of the sink's longest post. A process that dies
after posting but before recording it leaves the claim to expire; the next occurrence
then posts the message again (a duplicate, never a lost alert). A failing webhook never
raises out of here: the job that raised the alert goes on as it would have.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from myapi.admin.repository import IntegrityRepository
from myapi.alerts import templates
from myapi.alerts.repository import AlertsRepository, Claim
from myapi.alerts.templates import CHECKED_KINDS, Alert, AlertKind
from myapi.core.clock import Clock
from myapi.core.config import Settings
from myapi.core.db import unit_of_work
from myapi.cycle.calendar import MarketCalendar
from myapi.events.catalogue import consumed_queues
from myapi.providers.alerts import AlertSink
from myapi.providers.queue import QueueError, SqsQueue, dlq_name_for

logger = logging.getLogger("myapi.alerts")

INTEGRITY_ROW_LIMIT = 20  # offending rows read per check, as GET /admin/integrity's default
CLAIM_MARGIN_S = 10.0
FORGET_AFTER = timedelta(days=30)  # keys not seen for this long are deleted


class AlertService:
    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Clock,
        settings: Settings,
        sink: AlertSink,
        queue: SqsQueue,
        calendar: MarketCalendar,
    ) -> None:
        self._factory = factory
        self._clock = clock
        self._settings = settings
        self._sink = sink
        self._queue = queue
        self._calendar = calendar

    # --- raising ------------------------------------------------------------------------
    def raise_alert(self, alert: Alert) -> str:
        """One occurrence of `alert`: "sent", "held" (throttled, or being posted by
        another process; counted for the next message) or "failed" (the post failed;
        it stays pending). Never raises for a failing sink."""
        now = self._clock.now()
        token = uuid.uuid4().hex
        with unit_of_work(self._factory) as session:
            claim = AlertsRepository(session).occur(
                key=alert.key, kind=str(alert.kind), title=alert.title, lines=alert.lines, now=now,
                token=token, claim_until=self._claim_until(now), throttle_before=self._throttle_before(now),
            )  # fmt: skip
        if not claim.claimed:
            logger.info(
                "alert %s held (pending %d)", alert.key, claim.pending, extra={"alert_key": alert.key}
            )
            return "held"
        return self._post(claim, token)

    def job_failed(self, job: str, trading_day: date | None, run_id: int, error: str) -> str:
        """A batch job failed (JobRunner's failure hook; refusals never get here)."""
        return self.raise_alert(templates.job_failed(self._env, job, trading_day, run_id, error))

    def corporate_action_held(self, trading_day: date, held: dict[str, Any]) -> str:
        """A settlement held a symbol-day for review (Jobs.settle, after its commit)."""
        return self.raise_alert(templates.corporate_action_held(self._env, trading_day, held))

    def _post(self, claim: Claim, token: str) -> str:
        now = self._clock.now()
        message = templates.render(claim.title, claim.lines, more=claim.more, since=claim.since, now=now)
        try:
            self._sink.post(message)
        except Exception as exc:  # whatever the sink does, the caller goes on
            logger.warning(
                "alert %s not delivered (%s): it stays pending", claim.key, exc,
                extra={"alert_key": claim.key, "sink": self._sink.name},
            )  # fmt: skip
            with unit_of_work(self._factory) as session:
                AlertsRepository(session).failed(claim.key, token, f"{type(exc).__name__}: {exc}", now)
            return "failed"
        with unit_of_work(self._factory) as session:
            recorded = AlertsRepository(session).delivered(claim.key, token, claim.pending, self._clock.now())
        if not recorded:  # the lease ran out mid-post: another process may post it again
            logger.warning("alert %s delivered after its claim expired", claim.key)
        logger.info("alert %s sent via %s", claim.key, self._sink.name, extra={"alert_key": claim.key})
        return "sent"

    # --- the check ----------------------------------------------------------------------
    def check(self, last_closed_day: date) -> dict[str, Any]:
        """Evaluate every alert condition once and raise what holds:

        * DLQ_DEPTH: each consumed queue's DLQ holding more than ALERT_DLQ_THRESHOLD
          messages (approximate depth: visible + in flight + delayed);
        * EOD_MISSING: `last_closed_day` is past its VOID deadline (close +
          EOD_VOID_DEADLINE_MIN) and some universe symbol has no close;
        * INTEGRITY_FAILED: any integrity check fails (at most INTEGRITY_ROW_LIMIT
          offending rows read per check, as /admin/integrity does).

        Then job failures whose post had failed are posted again. A condition that
        cannot be evaluated (SQS unreachable) is reported in `errors` and the rest go
        on. Returns what was seen and the outcome per alert key."""
        now = self._clock.now()
        today = self._calendar.trading_day_for(now)
        outcomes: dict[str, str] = {}
        errors: list[str] = []
        seen: dict[str, Any] = {}
        for name, evaluate in self._conditions(today, last_closed_day).items():
            try:
                found, alerts = evaluate()
            except Exception as exc:
                logger.exception("alert condition %s could not be evaluated", name)
                errors.append(f"{name}: {type(exc).__name__}: {exc}"[:500])
                continue
            seen[name] = found
            for alert in alerts:
                outcomes[alert.key] = self.raise_alert(alert)
        outcomes.update(self._retry_undelivered(exclude=set(outcomes)))
        with unit_of_work(self._factory) as session:
            forgotten = AlertsRepository(session).delete_seen_before(now - FORGET_AFTER)
        return {
            "trading_day": last_closed_day.isoformat(),
            **seen,
            "alerts": outcomes,
            "sent": sum(1 for o in outcomes.values() if o == "sent"),
            "held": sum(1 for o in outcomes.values() if o == "held"),
            "failed": sum(1 for o in outcomes.values() if o == "failed"),
            "forgotten": forgotten,
            "errors": errors,
        }

    def _conditions(
        self, today: date, last_closed_day: date
    ) -> dict[str, Callable[[], tuple[Any, list[Alert]]]]:
        return {
            "dlq": lambda: self._dlq_depths(today),
            "eod_missing": lambda: self._eod_missing(last_closed_day),
            "integrity_failed": lambda: self._integrity(today),
        }

    def _dlq_depths(self, today: date) -> tuple[dict[str, int], list[Alert]]:
        depths: dict[str, int] = {}
        alerts: list[Alert] = []
        threshold = self._settings.alert_dlq_threshold
        unreadable: list[str] = []
        for key in sorted(consumed_queues()):
            name = self._settings.queue_names[key]
            dlq = dlq_name_for(name)
            try:
                depth = self._queue.depth(dlq)
            except QueueError as exc:
                logger.warning("DLQ depth of %s unavailable: %s", dlq, exc)
                unreadable.append(dlq)
                continue
            depths[dlq] = sum(depth.values())
            if depths[dlq] > threshold:
                alerts.append(templates.dlq_depth(self._env, today, name, dlq, depth, threshold))
        if unreadable and not depths:
            raise QueueError(f"no DLQ depth readable ({', '.join(unreadable)})")
        return depths, alerts

    def _eod_missing(self, day: date) -> tuple[list[str], list[Alert]]:
        now = self._clock.now()
        deadline_min = self._settings.eod_void_deadline_min
        with unit_of_work(self._factory) as session:
            repo = AlertsRepository(session)
            close = repo.session_close(day)
            if close is None:  # never opened: no universe to price
                return [], []
            market_close_at, settled = close
            deadline = market_close_at + timedelta(minutes=deadline_min)
            if now < deadline:
                return [], []
            missing, size = repo.missing_closes(day)
        if not missing:
            return [], []
        return missing, [
            templates.eod_missing(self._env, day, missing, size, deadline, deadline_min, settled)
        ]

    def _integrity(self, today: date) -> tuple[list[str], list[Alert]]:
        with unit_of_work(self._factory) as session:
            checks = IntegrityRepository(session).run(INTEGRITY_ROW_LIMIT, self._clock.now())
        failing = [(c.name, len(c.offending)) for c in checks if not c.passed]
        if not failing:
            return [], []
        alert = templates.integrity_failed(self._env, today, failing, len(checks), INTEGRITY_ROW_LIMIT)
        return [name for name, _ in failing], [alert]

    def _retry_undelivered(self, exclude: set[str]) -> dict[str, str]:
        """Post again the events (job failures) whose post failed; the checked
        conditions were just evaluated again instead."""
        now = self._clock.now()
        token = uuid.uuid4().hex
        events = [str(k) for k in AlertKind if k not in CHECKED_KINDS]
        with unit_of_work(self._factory) as session:
            claims = AlertsRepository(session).claim_undelivered(
                kinds=events, exclude=exclude, now=now, token=token,
                claim_until=self._claim_until(now), throttle_before=self._throttle_before(now),
            )  # fmt: skip
        return {claim.key: self._post(claim, token) for claim in claims}

    # --- settings -----------------------------------------------------------------------
    @property
    def _env(self) -> str:
        return self._settings.environment

    def _claim_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self._sink.max_duration_s + CLAIM_MARGIN_S)

    def _throttle_before(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self._settings.alert_throttle_s)
