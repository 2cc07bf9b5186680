"""Game sessions: one per NYSE trading day (SPEC §2). Opening and cutoff are idempotent
service operations; the clock and the calendar are the truth for what "today" is.

The cycle's guards live here, so that every path (the /internal and /admin routes, a
queue message, the tick) meets the same ones:

* a day opens only when it is due: the current trading day, once the previous trading
  day is settled or was never opened (CYCLE_004 otherwise: a past day, a day ahead,
  a previous day still open or unsettled);
* the scheduled cutoff happens at its time, not before (CYCLE_003); an earlier cutoff is
  an operator's explicit, audited act with a reason (`cutoff(..., early_reason=...)`);
* EOD fetch and settlement of D wait for D's close + EOD_FETCH_DELAY_MIN (CYCLE_002,
  with the instant it becomes possible); a day that is not a trading day is CYCLE_001.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session

from myapi.audit.repository import AuditRepository
from myapi.core.clock import Clock, to_kst
from myapi.core.config import Settings
from myapi.core.enums import Phase
from myapi.core.errors import AppError, NotFoundError
from myapi.cycle.calendar import MarketCalendar, SessionTimes
from myapi.cycle.repository import CycleRepository, SessionsRepository

_ONE_SECOND = timedelta(seconds=1)


class CycleRefusal(AppError):
    """A step asked for at a time the cycle's rules do not allow: a 409 with a stable
    code, never retried from a queue (redelivery cannot make it due)."""

    status_code = 409
    retry_from_queue = False


class NotATradingDayError(CycleRefusal):
    code = "CYCLE_001"
    message = "Not an NYSE trading day"


class MarketNotClosedError(CycleRefusal):
    code = "CYCLE_002"
    message = "The day's market has not closed yet (plus the EOD delay); retry from details.possible_from"


class CutoffNotDueError(CycleRefusal):
    code = "CYCLE_003"
    message = "The cutoff is not due yet; an earlier cutoff is an operator's early cutoff with a reason"


class DayNotDueError(CycleRefusal):
    code = "CYCLE_004"
    message = "Only the trading day that is due can be opened"


def eod_available_from(calendar: MarketCalendar, settings: Settings, trading_day: date) -> datetime:
    """When D's EOD may be fetched and D settled: its close + EOD_FETCH_DELAY_MIN.
    CYCLE_001 when D is not a trading day."""
    if not calendar.is_trading_day(trading_day):
        raise NotATradingDayError(details={"trading_day": trading_day.isoformat()})
    close = calendar.session_times(trading_day, settings.predict_cutoff_margin_min).market_close
    return close + timedelta(minutes=settings.eod_fetch_delay_min)


def require_market_closed(available_from: datetime, trading_day: date, now: datetime) -> None:
    """CYCLE_002 unless `now` is at or after `available_from` (see eod_available_from)."""
    if now < available_from:
        raise MarketNotClosedError(
            details={
                "trading_day": trading_day.isoformat(),
                "possible_from": to_kst(available_from).isoformat(),
            }
        )


@dataclass(frozen=True)
class SessionView:
    trading_day: date
    phase: Phase | None  # None: the session for this day has not been opened yet
    predict_open_at: datetime | None
    predict_cutoff_at: datetime
    market_open_at: datetime
    market_close_at: datetime
    settled_at: datetime | None
    can_predict: bool
    is_early_close: bool
    server_time: datetime
    clock_speed: float


class SessionService:
    def __init__(self, session: Session, clock: Clock, settings: Settings, calendar: MarketCalendar) -> None:
        self._session = session
        self._clock = clock
        self._settings = settings
        self._calendar = calendar
        self._sessions = SessionsRepository(session)

    def current_trading_day(self) -> date:
        """The trading day predictions made now are about (weekends, holidays and
        after-close instants belong to the next trading day)."""
        return self._calendar.trading_day_for(self._clock.now())

    def times(self, trading_day: date) -> SessionTimes:
        if not self._calendar.is_trading_day(trading_day):
            raise NotATradingDayError(details={"trading_day": trading_day.isoformat()})
        return self._calendar.session_times(trading_day, self._settings.predict_cutoff_margin_min)

    def view(self, trading_day: date | None = None) -> SessionView:
        day = trading_day or self.current_trading_day()
        times = self.times(day)
        row = self._sessions.get(day)
        now = self._clock.now()
        phase = row.phase if row else None
        return SessionView(
            trading_day=day,
            phase=phase,
            predict_open_at=row.predict_open_at if row else None,
            predict_cutoff_at=row.predict_cutoff_at if row else times.predict_cutoff,
            market_open_at=times.market_open,
            market_close_at=times.market_close,
            settled_at=row.settled_at if row else None,
            can_predict=row is not None and is_open_for_predictions(row.phase, row.predict_cutoff_at, now),
            is_early_close=times.is_early_close,
            server_time=now,
            clock_speed=self._settings.clock_speed,
        )

    def exists(self, trading_day: date) -> bool:
        """Whether D has a session (was ever opened)."""
        return self._sessions.get(trading_day) is not None

    def is_settled(self, trading_day: date) -> bool:
        row = self._sessions.get(trading_day)
        return row is not None and row.settled_at is not None

    def require_openable(self, trading_day: date) -> None:
        """CYCLE_004 unless D is the day due to open: the current trading day, with the
        previous trading day settled or never opened. (CYCLE_001: not a trading day.)"""
        self.times(trading_day)
        today = self.current_trading_day()
        reason = None
        if trading_day < today:
            reason = "PAST_DAY"
        elif trading_day > today:
            reason = "NOT_YET_DUE"
        else:
            previous = self._sessions.get(self._calendar.previous_trading_day(trading_day))
            if previous is not None and previous.settled_at is None:
                reason = "PREVIOUS_DAY_UNSETTLED"
        if reason is not None:
            raise DayNotDueError(
                details={"trading_day": trading_day.isoformat(), "reason": reason, "due": today.isoformat()}
            )

    def open(self, trading_day: date | None = None) -> dict[str, Any]:
        """Open day D for predictions (phase PREDICT) when it is due (`require_openable`).
        Idempotent: an existing session, in either phase, is left as it is."""
        day = trading_day or self.current_trading_day()
        times = self.times(day)
        if self._sessions.get(day) is not None:
            return {"trading_day": day.isoformat(), "opened": False}
        self.require_openable(day)
        now = self._clock.now()
        created = self._sessions.insert_if_absent(
            {
                "trading_day": day,
                "phase": Phase.PREDICT,
                "predict_open_at": min(now, times.predict_cutoff - _ONE_SECOND),
                "predict_cutoff_at": times.predict_cutoff,
                "market_open_at": times.market_open,
                "market_close_at": times.market_close,
                "updated_at": now,
            }
        )
        return {"trading_day": day.isoformat(), "opened": created}

    def cutoff(
        self, trading_day: date | None = None, *, early_reason: str | None = None, actor: str | None = None
    ) -> dict[str, Any]:
        """Close day D for predictions (phase SETTLE). Idempotent. Before D's scheduled
        cutoff it is refused (CYCLE_003) unless it is an operator's early cutoff: then
        `early_reason` and `actor` are required, the cutoff instant becomes now, and the
        act is audited."""
        day = trading_day or self.current_trading_day()
        self.times(day)
        now = self._clock.now()
        row = self._sessions.get(day)
        if early_reason is not None and row is None:
            raise NotFoundError("No session for that trading day: nothing to cut off", code="CYCLE_404")
        early = row is not None and row.phase == Phase.PREDICT and now < row.predict_cutoff_at
        if early and early_reason is None:
            assert row is not None
            raise CutoffNotDueError(
                details={
                    "trading_day": day.isoformat(),
                    "predict_cutoff_at": to_kst(row.predict_cutoff_at).isoformat(),
                }
            )
        if early:
            assert row is not None and actor is not None
            scheduled = row.predict_cutoff_at
            self._sessions.move_cutoff(day, max(now, row.predict_open_at + _ONE_SECOND), now)
            AuditRepository(self._session).record(
                actor=actor,
                action="session.early_cutoff",
                target=f"session:{day.isoformat()}",
                payload={"reason": early_reason, "scheduled_cutoff_at": scheduled.isoformat()},
                now=now,
            )
        flipped = self._sessions.flip_to_settle(day, now)
        return {"trading_day": day.isoformat(), "flipped": flipped, "early": early}


def is_open_for_predictions(phase: Phase | None, predict_cutoff_at: datetime | None, now: datetime) -> bool:
    """PREDICT phase and before the cutoff. The clock is the truth: past the cutoff
    nothing is accepted even if the phase flip has not run yet. (None: no session.)"""
    return phase == Phase.PREDICT and predict_cutoff_at is not None and now < predict_cutoff_at


@dataclass(frozen=True)
class CycleStep:
    """A step of the daily cycle that is due: what, for which day."""

    kind: Literal["cutoff", "request_eod_fetch", "request_settlement", "open", "refresh_baselines"]
    trading_day: date


class CyclePlanner:
    """The rules of the self-healing cycle (SPEC §2): from the calendar, the clock and
    the database, which steps are due now, in order. Reads only; the tick job does them.

    1. cut off every open session whose cutoff has passed;
    2. for each closed, unsettled day (close + EOD_FETCH_DELAY_MIN passed): ask for an
       EOD fetch while prices are missing and the VOID deadline has not passed,
       otherwise ask for settlement;
    3. open the current trading day once the previous trading day is settled (or was
       never opened: a fresh system starts at once);
    4. while the current day accepts predictions, refresh its baselines (the tick
       repeats it every BASELINE_REFRESH_INTERVAL_MIN).
    """

    def __init__(self, session: Session, clock: Clock, settings: Settings, calendar: MarketCalendar) -> None:
        self._session = session
        self._clock = clock
        self._settings = settings
        self._calendar = calendar

    def due_steps(self) -> list[CycleStep]:
        now = self._clock.now()
        cycle = CycleRepository(self._session)
        steps = [CycleStep("cutoff", day) for day in cycle.open_past_cutoff(now)]
        fetch_after = now - timedelta(minutes=self._settings.eod_fetch_delay_min)
        void_after = timedelta(minutes=self._settings.eod_void_deadline_min)
        for day, market_close_at, complete in cycle.closed_unsettled(fetch_after):
            settle = complete or now >= market_close_at + void_after
            steps.append(CycleStep("request_settlement" if settle else "request_eod_fetch", day))
        today = self._calendar.trading_day_for(now)
        sessions = SessionsRepository(self._session)
        previous = sessions.get(self._calendar.previous_trading_day(today))
        current = sessions.get(today)
        if current is None and (previous is None or previous.settled_at is not None):
            steps.append(CycleStep("open", today))
        elif current is not None and is_open_for_predictions(current.phase, current.predict_cutoff_at, now):
            steps.append(CycleStep("refresh_baselines", today))
        return steps
