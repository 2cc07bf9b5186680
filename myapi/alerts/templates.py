"""The operator alerts: their kinds, dedup keys and templates.

Every alert names the environment, the trading day, its counts and the runbook section
that says what to do (docs/operations.md, "Alerts"). Its key — kind and subject, e.g.
`JOB_FAILED:settlement.run:2026-11-27`, `DLQ_DEPTH:q-eod-fetch-dlq` — is what is
deduplicated and throttled.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from myapi.core.clock import to_kst
from myapi.providers.alerts.base import AlertMessage

RUNBOOK = "docs/operations.md"
MAX_KEY_CHARS = 200
MAX_ERROR_CHARS = 600
MAX_SYMBOLS_LISTED = 25


class AlertKind(StrEnum):
    JOB_FAILED = "JOB_FAILED"
    DLQ_DEPTH = "DLQ_DEPTH"
    EOD_MISSING = "EOD_MISSING"
    INTEGRITY_FAILED = "INTEGRITY_FAILED"
    CORPORATE_ACTION_HELD = "CORPORATE_ACTION_HELD"


# Conditions every alert check evaluates again (an unsent one is re-raised by the next
# check that still sees it); the others are events, retried by the check while unsent.
CHECKED_KINDS = frozenset({AlertKind.DLQ_DEPTH, AlertKind.EOD_MISSING, AlertKind.INTEGRITY_FAILED})


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    subject: str
    title: str
    lines: tuple[str, ...]

    @property
    def key(self) -> str:
        """`KIND:subject`; a subject too long for the key is replaced by its digest."""
        key = f"{self.kind}:{self.subject}"
        if len(key) <= MAX_KEY_CHARS:
            return key
        return f"{self.kind}:sha256:{hashlib.sha256(self.subject.encode()).hexdigest()}"


def render(
    title: str, lines: Sequence[str], *, more: int, since: datetime | None, now: datetime
) -> AlertMessage:
    """The message as posted: `(+N more since HH:MM KST)` on the title when N earlier
    occurrences were held back (throttled, or their post failed) since `since` (the last
    message sent, else the first occurrence; with its date when not today in KST)."""
    if more > 0 and since is not None:
        at = to_kst(since)
        stamp = at.strftime("%H:%M") if at.date() == to_kst(now).date() else at.strftime("%Y-%m-%d %H:%M")
        title = f"{title} (+{more} more since {stamp} KST)"
    return AlertMessage(title=title, lines=tuple(lines))


def _runbook(kind: AlertKind) -> str:
    return f"Runbook: {RUNBOOK}#{kind.lower()}"


def _day(day: date | None) -> str:
    return day.isoformat() if day else "none"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_summary(error: str) -> str:
    """A job's error without the SQL statement and its parameters SQLAlchemy appends
    (they may carry players' data; the full error stays in job_runs)."""
    for marker in ("[SQL:", "[parameters:"):
        error = error.split(marker, 1)[0]
    return error.replace("\\n", " ").strip()


def job_failed(env: str, job: str, trading_day: date | None, run_id: int, error: str) -> Alert:
    """A batch job failed (not a refusal by a rule): one key per job and day."""
    subject = f"{job}:{trading_day.isoformat()}" if trading_day else job
    return Alert(
        AlertKind.JOB_FAILED,
        subject,
        f"[{env}] Job failed: {job}" + (f" for {trading_day.isoformat()}" if trading_day else ""),
        (
            f"Job: {job} · trading day {_day(trading_day)} · run #{run_id}",
            f"Error: {_clip(_error_summary(error), MAX_ERROR_CHARS)}",
            f"Runs: GET /admin/jobs?job={job}",
            _runbook(AlertKind.JOB_FAILED),
        ),
    )


def dlq_depth(
    env: str, trading_day: date, queue: str, dlq: str, depth: dict[str, int], threshold: int
) -> Alert:
    """Messages that no worker could handle wait in a dead-letter queue."""
    total = sum(depth.values())
    return Alert(
        AlertKind.DLQ_DEPTH,
        dlq,
        f"[{env}] Dead-letter queue {dlq}: {total} message(s)",
        (
            f"Queue: {dlq} (the dead letters of {queue}) · trading day {trading_day.isoformat()}",
            f"Depth: {total} (visible {depth.get('visible', 0)}, in flight {depth.get('in_flight', 0)}, "
            f"delayed {depth.get('delayed', 0)}); alert above {threshold}",
            f"Look: python -m batch.queues peek {queue} · after the fix: "
            f"python -m batch.queues redrive {queue}",
            _runbook(AlertKind.DLQ_DEPTH),
        ),
    )


def eod_missing(
    env: str,
    trading_day: date,
    missing: Sequence[str],
    universe_size: int,
    deadline: datetime,
    deadline_min: int,
    settled: bool,
) -> Alert:
    """A closed day past its VOID deadline still lacks closes."""
    listed = ", ".join(missing[:MAX_SYMBOLS_LISTED])
    if len(missing) > MAX_SYMBOLS_LISTED:
        listed += f" … (+{len(missing) - MAX_SYMBOLS_LISTED})"
    state = (
        "settled: their predictions are VOID (a late price re-settles them)"
        if settled
        else "not settled yet: the next tick settles them VOID"
    )
    return Alert(
        AlertKind.EOD_MISSING,
        trading_day.isoformat(),
        f"[{env}] EOD prices missing past the deadline: {trading_day.isoformat()}",
        (
            f"Trading day: {trading_day.isoformat()} · missing {len(missing)} of {universe_size} "
            f"symbols: {listed}",
            f"Deadline passed: {to_kst(deadline).strftime('%Y-%m-%d %H:%M')} KST "
            f"(close + EOD_VOID_DEADLINE_MIN {deadline_min} min)",
            f"The day is {state}",
            _runbook(AlertKind.EOD_MISSING),
        ),
    )


def integrity_failed(
    env: str, trading_day: date, failing: Sequence[tuple[str, int]], checks: int, row_limit: int
) -> Alert:
    """Invariants that do not hold: (check name, offending rows found, at most row_limit)."""
    names = sorted(name for name, _ in failing)
    return Alert(
        AlertKind.INTEGRITY_FAILED,
        ",".join(names),
        f"[{env}] Integrity check failed: {len(failing)} of {checks} invariants",
        (
            f"Trading day: {trading_day.isoformat()}",
            *(
                f"• {name}: {count}{'+' if count >= row_limit else ''} offending row(s)"
                for name, count in sorted(failing)
            ),
            "Rows: GET /admin/integrity",
            _runbook(AlertKind.INTEGRITY_FAILED),
        ),
    )


_TRIGGER_TEXT = {
    "SPLIT": "the provider reports a split",
    "DIVIDEND": "the provider reports a large dividend",
    "MOVE": "the close is far from its reference price",
}


def corporate_action_held(env: str, trading_day: date, held: Mapping[str, Any]) -> Alert:
    """A settlement held a symbol-day for review (a split, a large dividend or a close
    far from its reference): one key per symbol-day. `held`: the settlement's row
    (symbol, trigger, close_price, reference_price, move, provider_action)."""
    symbol = str(held["symbol"])
    trigger = str(held.get("trigger"))
    action = held.get("provider_action") or {}
    reported = f" ({action.get('kind')} {action.get('value')})" if action else ""
    move = held.get("move")
    moved = f"{float(move) * 100:+.1f} %" if move is not None else "n/a"
    day = trading_day.isoformat()
    return Alert(
        AlertKind.CORPORATE_ACTION_HELD,
        f"{day}:{symbol}",
        f"[{env}] Settlement held for review: {symbol} on {day}",
        (
            f"Trading day: {day} · symbol {symbol}: {_TRIGGER_TEXT.get(trigger, trigger)}{reported}",
            f"Close {held.get('close_price')} vs reference {held.get('reference_price')} ({moved})",
            "Its predictions stay PENDING until decided; the rest of the day is settled",
            f"Decide: POST /admin/corporate-actions/{day}/{symbol}/decide "
            '{"decision": "SETTLE"|"VOID", "reason": …}',
            _runbook(AlertKind.CORPORATE_ACTION_HELD),
        ),
    )
