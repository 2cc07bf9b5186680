"""Game sessions: one per NYSE trading day (SPEC §2). Opening and cutoff are idempotent
service operations; the clock and the calendar are the truth for what "today" is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session

from myapi.core.clock import Clock
from myapi.core.config import Settings
from myapi.core.enums import Phase
from myapi.core.errors import AppError
from myapi.cycle.calendar import MarketCalendar, SessionTimes
from myapi.cycle.repository import CycleRepository, SessionsRepository

_ONE_SECOND = timedelta(seconds=1)


class NotATradingDayError(AppError):
    status_code = 409
    code = "CYCLE_001"
    message = "Not an NYSE trading day"


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
        )

    def open(self, trading_day: date | None = None) -> dict[str, Any]:
        """Open day D for predictions (phase PREDICT). Idempotent: an existing session,
        in either phase, is left as it is."""
        day = trading_day or self.current_trading_day()
        times = self.times(day)
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

    def cutoff(self, trading_day: date | None = None) -> dict[str, Any]:
        """Close day D for predictions (phase SETTLE). Idempotent."""
        day = trading_day or self.current_trading_day()
        self.times(day)
        flipped = self._sessions.flip_to_settle(day, self._clock.now())
        return {"trading_day": day.isoformat(), "flipped": flipped}


def is_open_for_predictions(phase: Phase | None, predict_cutoff_at: datetime | None, now: datetime) -> bool:
    """PREDICT phase and before the cutoff. The clock is the truth: past the cutoff
    nothing is accepted even if the phase flip has not run yet. (None: no session.)"""
    return phase == Phase.PREDICT and predict_cutoff_at is not None and now < predict_cutoff_at


@dataclass(frozen=True)
class CycleStep:
    """A step of the daily cycle that is due: what, for which day."""

    kind: Literal["cutoff", "request_eod_fetch", "request_settlement", "open"]
    trading_day: date


class CyclePlanner:
    """The rules of the self-healing cycle (SPEC §2): from the calendar, the clock and
    the database, which steps are due now, in order. Reads only; the tick job does them.

    1. cut off every open session whose cutoff has passed;
    2. for each closed, unsettled day (close + EOD_FETCH_DELAY_MIN passed): ask for an
       EOD fetch while prices are missing and the VOID deadline has not passed,
       otherwise ask for settlement;
    3. open the current trading day once the previous trading day is settled (or was
       never opened: a fresh system starts at once).
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
        if sessions.get(today) is None and (previous is None or previous.settled_at is not None):
            steps.append(CycleStep("open", today))
        return steps
