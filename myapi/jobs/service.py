"""EOD backfills: an operator's range of days, each day fetched by its own `eod.fetch`
job on the eod_fetch queue (the job the scheduler's requests run), with the progress read
back from `job_runs`.

A backfill is its `eod.backfill` job run: the run's id is the backfill id and its
details list the range's trading days with what was done for each at the request —
QUEUED (an `eod.fetch.requested` event in the outbox, committed with the run), COMPLETE
(every symbol of the day's universe already has a close: nothing to do) or NO_UNIVERSE
(the day has no universe, so nothing to fetch). Posting the same range again after a
crash, or after a provider failed some days, queues only the days still incomplete; a
duplicate message for a day is harmless (the fetch skips priced symbols).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session

from myapi.core.clock import Clock
from myapi.core.config import Settings
from myapi.core.errors import AppError, NotFoundError
from myapi.cycle.calendar import MarketCalendar
from myapi.cycle.service import eod_available_from, require_market_closed
from myapi.events.catalogue import JobName, request_eod_fetch
from myapi.jobs.repository import EodCoverageRepository, JobRunsRepository

DayAction = Literal["QUEUED", "COMPLETE", "NO_UNIVERSE"]
# A day's state as the progress shows it: its action at the request when it was not
# queued, else what its eod.fetch run (the latest after the backfill's) and the stored
# closes say now.
DayState = Literal["QUEUED", "RUNNING", "DONE", "INCOMPLETE", "FAILED", "COMPLETE", "NO_UNIVERSE"]
PENDING_STATES: frozenset[str] = frozenset({"QUEUED", "RUNNING"})


class BackfillRangeError(AppError):
    status_code = 422
    code = "BACKFILL_001"
    message = "Invalid backfill range"


class BackfillNotFoundError(NotFoundError):
    code = "BACKFILL_404"
    message = "No such EOD backfill"


@dataclass(frozen=True)
class BackfillDay:
    trading_day: date
    state: DayState
    symbols: int  # in the day's universe
    missing: int  # of them still without a close, now
    run_id: int | None = None  # the day's latest eod.fetch run since the backfill
    error: str | None = None
    missing_symbols: list[str] = field(default_factory=list)  # as the run left them


@dataclass(frozen=True)
class BackfillProgress:
    backfill_id: int
    status: str  # the eod.backfill run's own status
    first: date | None
    last: date | None
    actor: str | None
    requested_at: datetime
    error: str | None
    days: list[BackfillDay]

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for day in self.days:
            counts[day.state] = counts.get(day.state, 0) + 1
        return counts

    @property
    def finished(self) -> bool:
        """Nothing left to wait for: the request is done and no day is queued or running."""
        return self.status != "RUNNING" and not any(d.state in PENDING_STATES for d in self.days)


class EodBackfillService:
    def __init__(self, session: Session, clock: Clock, settings: Settings, calendar: MarketCalendar) -> None:
        self._session = session
        self._clock = clock
        self._settings = settings
        self._calendar = calendar

    def queue(self, first: date, last: date, *, actor: str) -> dict[str, Any]:
        """The work of the `eod.backfill` job (in its unit of work): one `eod.fetch` request
        per trading day of [first, last] that still lacks a close, oldest first. Refused,
        with nothing queued: a reversed range, one longer than EOD_BACKFILL_MAX_DAYS
        calendar days or without a trading day (BACKFILL_001), a date outside the
        calendar (CYCLE_005), a day whose close + EOD_FETCH_DELAY_MIN has not passed on
        the clock (CYCLE_002, the first such day). Weekends and holidays are skipped.
        Returns the job's details (the backfill's plan)."""
        days = self._trading_days(first, last)
        now = self._clock.now()
        for day in days:
            require_market_closed(eod_available_from(self._calendar, self._settings, day), day, now)
        coverage = EodCoverageRepository(self._session).coverage(days)
        planned: list[dict[str, Any]] = []
        for day in days:
            symbols, missing = coverage.get(day, (0, 0))
            action: DayAction = "QUEUED"
            if not symbols:
                action = "NO_UNIVERSE"
            elif not missing:
                action = "COMPLETE"
            else:
                request_eod_fetch(self._session, now, day)
            planned.append(
                {"trading_day": day.isoformat(), "action": action, "symbols": symbols, "missing": missing}
            )
        queued = sum(1 for p in planned if p["action"] == "QUEUED")
        return {
            "from": first.isoformat(), "to": last.isoformat(), "actor": actor, "days": planned,
            "queued": queued, "skipped": len(planned) - queued,
        }  # fmt: skip

    def _trading_days(self, first: date, last: date) -> list[date]:
        limit = self._settings.eod_backfill_max_days
        span = (last - first).days + 1
        if span < 1:
            raise BackfillRangeError(
                "`to` is before `from`", details={"from": first.isoformat(), "to": last.isoformat()}
            )
        if span > limit:
            raise BackfillRangeError(
                f"A backfill covers at most {limit} calendar days",
                details={"from": first.isoformat(), "to": last.isoformat(), "days": span, "max_days": limit},
            )
        days = [d for d in (first + timedelta(n) for n in range(span)) if self._calendar.is_trading_day(d)]
        if not days:
            raise BackfillRangeError(
                "The range has no NYSE trading day",
                details={"from": first.isoformat(), "to": last.isoformat()},
            )
        return days

    def progress(self, backfill_id: int) -> BackfillProgress:
        """A backfill's request and each of its days' state now (see DayState): from its
        job run, the days' eod.fetch runs since, and the closes stored. BACKFILL_404 for
        an id that is not an eod.backfill run."""
        runs = JobRunsRepository(self._session)
        run = runs.get(backfill_id)
        if run is None or run.job != JobName.BACKFILL_EOD:
            raise BackfillNotFoundError(details={"backfill_id": backfill_id})
        details = run.details or {}
        planned = [(date.fromisoformat(p["trading_day"]), str(p["action"])) for p in details.get("days", [])]
        days = [day for day, _ in planned]
        coverage = EodCoverageRepository(self._session).coverage(days) if days else {}
        fetches = runs.latest_by_day_after(JobName.FETCH_EOD, days, backfill_id) if days else {}
        out: list[BackfillDay] = []
        for day, action in planned:
            symbols, missing = coverage.get(day, (0, 0))
            fetch = fetches.get(day)
            left = [str(s) for s in (fetch.details or {}).get("missing", [])] if fetch else []
            state: DayState
            if action == "COMPLETE":
                state = "COMPLETE"
            elif action == "NO_UNIVERSE":
                state = "NO_UNIVERSE"
            elif symbols and not missing:
                state, left = "DONE", []  # priced, by this backfill's fetch or any other path
            elif fetch is None:
                state = "QUEUED"
            elif fetch.status == "RUNNING":
                state = "RUNNING"
            elif fetch.status == "FAILED":
                state = "FAILED"
            else:
                state = "INCOMPLETE"  # the providers had no close for some symbols
            out.append(
                BackfillDay(
                    trading_day=day, state=state, symbols=symbols, missing=missing,
                    run_id=fetch.id if fetch else None, error=fetch.error if fetch else None,
                    missing_symbols=left,
                )
            )  # fmt: skip
        return BackfillProgress(
            backfill_id=run.id, status=run.status,
            first=date.fromisoformat(details["from"]) if "from" in details else None,
            last=date.fromisoformat(details["to"]) if "to" in details else None,
            actor=details.get("actor"), requested_at=run.started_at, error=run.error, days=out,
        )  # fmt: skip
