"""The operators' dashboard (issue 13, SPEC §6): the game's daily figures over a date
range, and the pipeline's state now (queues, outbox, jobs).

Days. A figure belongs to a trading day D (NYSE session date) and its *game day*: the
instants from the previous session's close to D's close (05:00/06:00 KST), when
`GET /v1/session/today` says D — predictions for D are made then, and D is settled just
after it ends. The range `from..to` (dates, inclusive) covers its trading days; a day
after today's is not shown.

Per trading day D (the series; exact integers):

* predictions — D's predictions, cancelled ones aside; correct / incorrect / VOID;
* participants — players with a prediction of D that is not cancelled;
* dau — players active in D's game day: with any prediction of D (made, changed or
  cancelled then), or with a ledger entry written then that the settlement did not
  write (signup bonus, redemption, refund, adjustment). A point won is not activity;
* points_issued / points_spent — credits / debits (as positive numbers) of D: the
  settlement's entries for D (first awards and any later corrections of D, whenever
  written), and every other entry written in D's game day;
* win_rate — correct / (correct + incorrect); void_rate — VOID / (correct + incorrect +
  VOID); null while nothing is decided.

Over the range (totals): sums of predictions and points, rates from the summed counts,
and dau / participants as the mean per trading day (a distinct count over a range is
not a sum of days: it would need every player of every day per request). Per symbol:
its predictions, its players per trading day it was predicted (mean), its win rate.

Where the figures come from: a settled day's are written by the settlement follow-up
job (`DashboardSummary.refresh`, one row per day plus one per symbol), once its game day
is over, and rewritten by every later settlement run of the day; a day without them
(today, a day whose follow-up has not run yet) is counted at request time by the same
SQL, bounded by that day's own rows. Queue depths are read from SQS (all at once; an
unreachable queue is reported in its entry, the rest of the dashboard still answers),
the outbox lag from its unpublished rows, the last run of each job from job_runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from myapi.core.clock import Clock
from myapi.core.config import Settings
from myapi.core.errors import ValidationFailedError
from myapi.cycle.calendar import MarketCalendar
from myapi.cycle.repository import SessionsRepository
from myapi.dashboard.repository import DashboardRepository, DayFigures, GameDay, SymbolFigures
from myapi.dashboard.schemas import (
    DashboardOut,
    DlqOut,
    JobRunOut,
    OutboxOut,
    QueueOut,
    SeriesPointOut,
    SymbolOut,
    TotalsOut,
)
from myapi.events.catalogue import JobName
from myapi.outbox.repository import OutboxClaimRepository
from myapi.providers.queue import QueueError, SqsQueue, dlq_name_for

logger = logging.getLogger("myapi.dashboard")

DEFAULT_RANGE_DAYS = 7
MAX_RANGE_DAYS = 366
QUEUE_DEPTH_WAIT_S = 2.0  # after the database reads, for the SQS depth calls still out


def game_days(calendar: MarketCalendar, first: date, last: date) -> list[GameDay]:
    """The trading days in [first, last], each with its game day."""
    return list(_game_days(calendar, first, last))


@lru_cache(maxsize=512)
def _game_days(calendar: MarketCalendar, first: date, last: date) -> tuple[GameDay, ...]:
    # Cached: the calendar's answers never change, and walking a year of sessions through
    # pandas costs tens of milliseconds (the dashboard asks for the same ranges again).
    day = first if calendar.is_trading_day(first) else calendar.next_trading_day(first)
    if day > last:
        return ()
    start = calendar.session_times(calendar.previous_trading_day(day), 0).market_close
    days: list[GameDay] = []
    while day <= last:
        end = calendar.session_times(day, 0).market_close
        days.append(GameDay(day, start, end))
        start = end
        day = calendar.next_trading_day(day)
    return tuple(days)


Count = Callable[[Sequence[GameDay]], tuple[list[DayFigures], list[SymbolFigures]]]


@dataclass(frozen=True)
class Counted:
    """A day's figures and when they were counted (or summarised)."""

    at: datetime
    figures: DayFigures
    symbols: tuple[SymbolFigures, ...]


class LiveCounts:
    """The live counts of days without a summary row, each kept `ttl_s` seconds: one
    per API process (a container singleton), shared by its requests, thread-safe.
    Counting takes the lock, so concurrent requests for a stale day count it once (the
    others wait for that count). A count is exact as of its `at`; a day summarised in
    the meantime is read from its summary row instead, whatever is kept here."""

    MAX_DAYS = 1024  # past this, only the days of the current request are kept

    def __init__(self, ttl_s: float) -> None:
        self._ttl = timedelta(seconds=ttl_s)
        self._lock = threading.Lock()
        self._kept: dict[date, Counted] = {}

    def get(self, days: Sequence[GameDay], now: datetime, count: Count) -> list[Counted]:
        """`days`' counts, counting (with `count`) those not counted in the last ttl_s."""
        if not days:
            return []
        if self._ttl <= timedelta(0):
            return self._counted(days, now, count)
        if all(self._fresh(d.trading_day, now) for d in days):
            return [self._kept[d.trading_day] for d in days]
        with self._lock:
            stale = [d for d in days if not self._fresh(d.trading_day, now)]
            if stale:
                if len(self._kept) + len(stale) > self.MAX_DAYS:
                    wanted = {d.trading_day for d in days}
                    self._kept = {k: v for k, v in self._kept.items() if k in wanted}
                for c in self._counted(stale, now, count):
                    self._kept[c.figures.trading_day] = c
            return [self._kept[d.trading_day] for d in days]

    def _fresh(self, day: date, now: datetime) -> bool:
        kept = self._kept.get(day)
        return kept is not None and kept.at <= now < kept.at + self._ttl

    @staticmethod
    def _counted(days: Sequence[GameDay], now: datetime, count: Count) -> list[Counted]:
        figures, symbols = count(days)
        by_day: dict[date, list[SymbolFigures]] = defaultdict(list)
        for s in symbols:
            by_day[s.trading_day].append(s)
        return [Counted(now, f, tuple(by_day[f.trading_day])) for f in figures]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: Sequence[int]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


class DashboardSummary:
    """Writes the per-day summary the dashboard reads (the settlement follow-up's part)."""

    def __init__(self, session: Session, clock: Clock, calendar: MarketCalendar) -> None:
        self._session = session
        self._repo = DashboardRepository(session)
        self._clock = clock
        self._calendar = calendar

    def refresh(self, trading_day: date) -> dict[str, Any]:
        """Count `trading_day` (see the module's definitions) and replace its summary
        rows, under a per-day lock. Only once its game day is over (settlement comes
        after the close, so the follow-up always is): until then the day is counted
        live and nothing is written. Idempotent: a re-run writes the same figures; a
        re-settlement's follow-up rewrites them with its corrections."""
        found = game_days(self._calendar, trading_day, trading_day)
        if not found:
            raise ValueError(f"{trading_day.isoformat()} is not a trading day")
        day = found[0]
        now = self._clock.now()
        result: dict[str, Any] = {"trading_day": trading_day.isoformat()}
        if now < day.end:
            return {**result, "summarised": False, "reason": "its game day is not over"}
        self._repo.lock_day(trading_day)
        (figures,), symbols = self._repo.count_days([day])
        self._repo.write_day(day, figures, symbols, now)
        return {
            **result, "summarised": True, "symbols": len(symbols), "predictions": figures.predictions,
            "participants": figures.participants, "dau": figures.dau,
            "points_issued": figures.points_issued, "points_spent": figures.points_spent,
        }  # fmt: skip

    def settled_days(self, first: date, last: date) -> list[date]:
        """Days in [first, last] that have been settled (what a rebuild refreshes)."""
        return [row.trading_day for row in SessionsRepository(self._session).settled_between(first, last)]


class DashboardService:
    def __init__(
        self,
        session: Session,
        clock: Clock,
        settings: Settings,
        calendar: MarketCalendar,
        queue: SqsQueue,
        live: LiveCounts,
    ) -> None:
        self._session = session
        self._repo = DashboardRepository(session)
        self._clock = clock
        self._settings = settings
        self._calendar = calendar
        self._queue = queue
        self._live = live

    def dashboard(self, first: date | None, last: date | None) -> DashboardOut:
        """The dashboard of [first, last] (dates, inclusive; default the 7 days up to
        today's trading day; at most MAX_RANGE_DAYS, else SYS_422). Reads only: the
        range's summary rows, the live days' own rows, one depth call per queue and DLQ
        (concurrent, outside the database), and index-bounded lookups."""
        now = self._clock.now()
        today = self._calendar.trading_day_for(now)
        for day in (first, last):  # CYCLE_005 before any arithmetic on a date near date.min/max
            if day is not None:
                self._calendar.check_supported(day)
        last = last or today
        first = first or last - timedelta(days=DEFAULT_RANGE_DAYS - 1)
        if first > last or (last - first).days + 1 > MAX_RANGE_DAYS:
            raise ValidationFailedError(
                f"from..to must be an ascending range of at most {MAX_RANGE_DAYS} days",
                details={"from": first.isoformat(), "to": last.isoformat(), "max_days": MAX_RANGE_DAYS},
            )
        days = game_days(self._calendar, first, min(last, today))
        queues = list(self._settings.queue_names.items())
        names = [name for _, q in queues for name in (q, dlq_name_for(q))]
        # The depth calls go out first and run while the database is read; what has not
        # answered QUEUE_DEPTH_WAIT_S after that is reported as such (a call left running
        # ends within the SQS client's own timeouts, in its thread).
        pool = ThreadPoolExecutor(max_workers=max(1, len(names)), thread_name_prefix="dashboard-sqs")
        try:
            depths = {name: pool.submit(self._queue.depth, name) for name in names}
            figures, symbols, as_of, live = self._figures(days, now)
            span = (days[0].start, days[-1].end) if days else (now, now)
            redemptions = self._repo.redemptions_by_status(*span)
            jobs = self._repo.last_runs([str(job) for job in JobName])
            pending, lag_s = OutboxClaimRepository(self._session).lag(now)
            deadline = time.monotonic() + QUEUE_DEPTH_WAIT_S
            queue_rows = [self._queue_out(key, name, depths, deadline) for key, name in queues]
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        series = [self._point(f, as_of[f.trading_day], f.trading_day in live) for f in figures]
        return DashboardOut(
            from_=first,
            to=last,
            totals=self._totals(figures),
            redemptions=redemptions,
            queues=queue_rows,
            outbox=OutboxOut(lag_seconds=round(lag_s, 3), pending=pending),
            jobs=[
                JobRunOut(
                    job=j.job, status=j.status, started_at=j.started_at, finished_at=j.finished_at,
                    error=j.error, id=j.id, trading_day=j.trading_day,
                )
                for j in jobs
            ],
            symbols=self._symbols(symbols),
            series=series,
        )  # fmt: skip

    # --- the game's figures ------------------------------------------------------------
    def _figures(
        self, days: Sequence[GameDay], now: datetime
    ) -> tuple[list[DayFigures], list[SymbolFigures], dict[date, datetime], set[date]]:
        """Summarised days from their rows, the others counted live (or as counted in
        the last DASHBOARD_LIVE_TTL_S); in day order, with when each was counted."""
        figures, symbols, as_of = self._repo.summarised([d.trading_day for d in days])
        live_days = [d for d in days if d.trading_day not in as_of]
        for counted in self._live.get(live_days, now, self._repo.count_days):
            figures.append(counted.figures)
            symbols.extend(counted.symbols)
            as_of[counted.figures.trading_day] = counted.at
        figures.sort(key=lambda f: f.trading_day)
        return figures, symbols, as_of, {d.trading_day for d in live_days}

    @staticmethod
    def _point(f: DayFigures, as_of: datetime, live: bool) -> SeriesPointOut:
        return SeriesPointOut(
            day=f.trading_day, dau=f.dau, predictions=f.predictions, participants=f.participants,
            win_rate=_rate(f.correct, f.correct + f.incorrect),
            void_rate=_rate(f.void, f.correct + f.incorrect + f.void),
            points_issued=f.points_issued, points_spent=f.points_spent, live=live, as_of=as_of,
        )  # fmt: skip

    @staticmethod
    def _totals(figures: Sequence[DayFigures]) -> TotalsOut:
        correct = sum(f.correct for f in figures)
        incorrect = sum(f.incorrect for f in figures)
        void = sum(f.void for f in figures)
        return TotalsOut(
            dau=_mean([f.dau for f in figures]),
            predictions=sum(f.predictions for f in figures),
            participants=_mean([f.participants for f in figures]),
            win_rate=_rate(correct, correct + incorrect),
            void_rate=_rate(void, correct + incorrect + void),
            points_issued=sum(f.points_issued for f in figures),
            points_spent=sum(f.points_spent for f in figures),
        )

    @staticmethod
    def _symbols(rows: Iterable[SymbolFigures]) -> list[SymbolOut]:
        """Per symbol over the range, most predicted first."""
        # symbol -> [predictions, correct, decided, days]
        by_symbol: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for r in rows:
            acc = by_symbol[r.symbol]
            acc[0] += r.predictions
            acc[1] += r.correct
            acc[2] += r.correct + r.incorrect
            acc[3] += 1
        out = [
            SymbolOut(
                symbol=symbol,
                participants=round(predictions / days, 2),
                predictions=predictions,
                win_rate=_rate(correct, decided),
            )
            for symbol, (predictions, correct, decided, days) in by_symbol.items()
        ]
        return sorted(out, key=lambda s: (-s.predictions, s.symbol))

    # --- the pipeline ------------------------------------------------------------------
    @staticmethod
    def _queue_out(
        key: str, name: str, depths: dict[str, Future[dict[str, int]]], deadline: float
    ) -> QueueOut:
        dlq = dlq_name_for(name)
        read: dict[str, dict[str, int] | None] = {}
        errors: list[str] = []
        for queue_name in (name, dlq):
            try:
                read[queue_name] = depths[queue_name].result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                read[queue_name] = None
                errors.append(f"{queue_name}: no answer from SQS within {QUEUE_DEPTH_WAIT_S:g} s")
            except Exception as exc:  # QueueError, or whatever the client raised: reported, not raised
                if not isinstance(exc, QueueError):
                    logger.exception("depth of %s: unexpected error", queue_name)
                logger.warning("depth of %s unavailable: %s", queue_name, exc)
                read[queue_name] = None
                errors.append(f"{queue_name}: {exc}"[:300])
        main, dead = read[name] or {}, read[dlq] or {}
        return QueueOut(
            key=key, name=name,
            visible=main.get("visible"), in_flight=main.get("in_flight"), delayed=main.get("delayed"),
            dlq=DlqOut(
                name=dlq, visible=dead.get("visible"), in_flight=dead.get("in_flight"),
                delayed=dead.get("delayed"),
            ),
            error="; ".join(errors) or None,
        )  # fmt: skip
