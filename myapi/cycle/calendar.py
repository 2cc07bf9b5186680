"""The NYSE calendar (exchange-calendars `XNYS`): trading days, open/close instants,
early closes and DST all come from it; nothing is hand-written here.

Instants are timezone-aware UTC; helpers render them in KST for the API.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import exchange_calendars as xcals
import pandas as pd
from exchange_calendars.errors import DateOutOfBounds, RequestedSessionOutOfBounds

from myapi.core.clock import NEW_YORK, Clock
from myapi.core.errors import AppError

CALENDAR_NAME = "XNYS"
CALENDAR_START = date(2020, 1, 1)
# Built this many years past the clock's today; a later day extends it by as much again,
# so it never ends while time goes on. Further than this past its end is not a date the
# game can be asked about (CalendarRangeError).
CALENDAR_YEARS_AHEAD = 3


class CalendarRangeError(AppError, ValueError):
    """A date outside the range the calendar covers (before its start, or further past
    its end than it extends itself): a 422 with the supported range, never retried."""

    status_code = 422
    code = "CYCLE_005"
    message = "The date is outside the supported calendar range"
    retry_from_queue = False


@dataclass(frozen=True)
class SessionTimes:
    trading_day: date
    market_open: datetime  # UTC
    market_close: datetime  # UTC
    predict_cutoff: datetime  # UTC: market open minus the cutoff margin

    @property
    def is_early_close(self) -> bool:
        return self.market_close.astimezone(NEW_YORK).hour < 16


# Room after a checked day, so that "the next session" is always inside the calendar.
_LOOKAHEAD = timedelta(days=30)


def _years_after(day: date, years: int) -> date:
    return date(day.year + years, 12, 31)


class MarketCalendar:
    def __init__(self, today: date, start: date = CALENDAR_START, end: date | None = None) -> None:
        """Trading days from `start` to `end` (default: CALENDAR_YEARS_AHEAD years past
        `today`, which comes from the clock); later days extend it on demand."""
        self.start = start
        self._extend_lock = threading.Lock()
        self._build(end or _years_after(today, CALENDAR_YEARS_AHEAD))
        # (from, until, day): trading_day_for(t) == day for from <= t < until.
        self._day_window: tuple[datetime, datetime, date] | None = None

    def _build(self, end: date) -> None:
        cal = xcals.get_calendar(CALENDAR_NAME, start=pd.Timestamp(self.start), end=pd.Timestamp(end))
        # One attribute swap each: a reader sees the old or the new calendar, both right.
        self._cal = cal
        self.end = end
        self.first_day: date = cal.first_session.date()
        self.last_day: date = cal.last_session.date()

    def supported_range(self) -> tuple[date, date]:
        """The days the calendar answers for: from its first session to as far as it
        extends itself (CALENDAR_YEARS_AHEAD years past its end), less the room it keeps
        after a day for the next session."""
        return self.first_day, _years_after(self.end, CALENDAR_YEARS_AHEAD) - _LOOKAHEAD

    def check_supported(self, day: date) -> None:
        """CalendarRangeError (422 `CYCLE_005`, with the supported range) for a day outside
        supported_range(); date arithmetic near `date.min`/`date.max` never happens."""
        first, until = self.supported_range()
        if not first <= day <= until:
            raise self._out_of_range(day)

    def _extend_to(self, day: date) -> None:
        """Rebuild with a later end when `day` is past it (within the supported range)."""
        with self._extend_lock:
            if day > self.last_day:
                self._build(_years_after(day, CALENDAR_YEARS_AHEAD))

    def _out_of_range(self, day: date) -> CalendarRangeError:
        first, until = self.supported_range()
        return CalendarRangeError(
            details={
                "date": day.isoformat(),
                "supported_from": first.isoformat(),
                "supported_until": until.isoformat(),
            },
            message=f"{day.isoformat()} is outside the NYSE calendar range the game supports, "
            f"{first.isoformat()}..{until.isoformat()}",
        )

    def _check(self, day: date) -> pd.Timestamp:
        """`day` as a timestamp the calendar covers, with room after it for the next
        session; call it before touching `self._cal` (it may rebuild the calendar)."""
        self.check_supported(day)
        if day + _LOOKAHEAD > self.last_day:
            self._extend_to(day + _LOOKAHEAD)
        return pd.Timestamp(day)

    def is_trading_day(self, day: date) -> bool:
        ts = self._check(day)
        return bool(self._cal.is_session(ts))

    def next_trading_day(self, day: date) -> date:
        """The first trading day strictly after `day`."""
        return self._adjacent(day, "next")

    def previous_trading_day(self, day: date) -> date:
        """The last trading day strictly before `day`."""
        return self._adjacent(day, "previous")

    def _adjacent(self, day: date, direction: Literal["next", "previous"]) -> date:
        ts = self._check(day)
        try:
            session = self._cal.date_to_session(ts, direction=direction)
            if session == ts:
                step = self._cal.next_session if direction == "next" else self._cal.previous_session
                session = step(ts)
        except (DateOutOfBounds, RequestedSessionOutOfBounds) as exc:
            raise self._out_of_range(day) from exc
        return self._as_date(session)

    def session_times(self, day: date, cutoff_margin_min: int) -> SessionTimes:
        ts = self._check(day)
        if not self._cal.is_session(ts):
            raise ValueError(f"{day.isoformat()} is not an NYSE trading day")
        market_open = self._cal.session_open(ts).to_pydatetime().astimezone(UTC)
        market_close = self._cal.session_close(ts).to_pydatetime().astimezone(UTC)
        return SessionTimes(
            trading_day=day,
            market_open=market_open,
            market_close=market_close,
            predict_cutoff=market_open - timedelta(minutes=cutoff_margin_min),
        )

    def trading_day_for(self, instant: datetime) -> date:
        """The trading day that predictions made at `instant` are about: the first session
        that has not closed yet (after D-1's close, the game is about D)."""
        # Every prediction asks this: the answer is the same from one close to the next,
        # so the last window is kept (one tuple, replaced atomically; no lock needed).
        window = self._day_window
        if window is not None and window[0] <= instant < window[1]:
            return window[2]
        try:
            candidate = instant.astimezone(NEW_YORK).date()
        except OverflowError as exc:  # an instant within hours of datetime.min/max
            raise self._out_of_range(instant.date()) from exc
        ts = self._check(candidate)
        try:
            session = self._cal.date_to_session(ts, direction="next")
            if self._cal.session_close(session).to_pydatetime() <= instant:
                session = self._cal.next_session(session)
            close = self._cal.session_close(session).to_pydatetime()
        except (DateOutOfBounds, RequestedSessionOutOfBounds) as exc:
            raise self._out_of_range(candidate) from exc
        day = self._as_date(session)
        try:
            since = self._cal.session_close(self._cal.previous_session(session)).to_pydatetime()
        except (DateOutOfBounds, RequestedSessionOutOfBounds):
            since = instant  # the calendar's first session: known from here on
        self._day_window = (since, close, day)
        return day

    def _as_date(self, ts: pd.Timestamp) -> date:
        result: date = ts.date()
        return result


_lock = threading.Lock()


_calendar: MarketCalendar | None = None


def get_market_calendar(clock: Clock | None = None) -> MarketCalendar:
    """The process-wide calendar (building it takes about a second); the first caller's
    clock sets its initial end (the system clock when none is given)."""
    global _calendar
    with _lock:
        if _calendar is None:
            today = (clock.now() if clock is not None else datetime.now(UTC)).date()
            _calendar = MarketCalendar(today)
        return _calendar
