"""Which simulated week the demo plays, and the clock every process runs on.

The demo starts a couple of simulated minutes after a session's close, so the next
trading day opens at once, and plays `days` simulated days from there. It picks a week
with something to see: the first NYSE holiday on a weekday or early close within
`LOOKAHEAD_DAYS` of today (the week starts the session before it, so the calendar's
notice, the short day and the skipped day all happen in the week); without one, the
next session. Every 7-day window holds a weekend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from myapi.core.clock import KST
from myapi.cycle.calendar import MarketCalendar

LOOKAHEAD_DAYS = 30
START_AFTER_CLOSE = timedelta(minutes=2)
DEFAULT_SPEED = 1440.0  # a simulated day per real minute: a week in 7 minutes
DEFAULT_DAYS = 7


@dataclass(frozen=True)
class CalendarNote:
    day: date
    what: str  # "holiday" | "early close" | "weekend"

    def __str__(self) -> str:
        return f"{self.day:%a %Y-%m-%d} {self.what}"


@dataclass(frozen=True)
class DemoPlan:
    first_day: date  # the trading day that opens when the demo starts
    start_at: datetime  # the simulated instant of the start (UTC)
    end_at: datetime  # start + days
    speed: float  # simulated seconds per real second
    sessions: tuple[date, ...]  # the sessions that close (and so settle) within the window
    notes: tuple[CalendarNote, ...]  # holidays, early closes and weekends in the window

    @property
    def wall_seconds(self) -> float:
        """Real seconds the simulated window takes (start-up and the last settlement aside)."""
        return (self.end_at - self.start_at).total_seconds() / self.speed

    def describe(self) -> str:
        start = self.start_at.astimezone(KST)
        notes = ", ".join(str(n) for n in self.notes if n.what != "weekend") or "no holiday near"
        return (
            f"simulated {start:%a %Y-%m-%d %H:%M} KST + {(self.end_at - self.start_at).days} days "
            f"at {self.speed:g}x (~{self.wall_seconds / 60:.1f} min of wall time); "
            f"first day {self.first_day}, {len(self.sessions)} sessions; {notes}"
        )


def notable_day(calendar: MarketCalendar, after: date, lookahead: int = LOOKAHEAD_DAYS) -> date | None:
    """The first weekday in (after, after + lookahead] that is a holiday or an early close."""
    for offset in range(1, lookahead + 1):
        day = after + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        if not calendar.is_trading_day(day):
            return day
        if calendar.session_times(day, 0).is_early_close:
            return day
    return None


def plan(
    calendar: MarketCalendar,
    now: datetime,
    *,
    speed: float = DEFAULT_SPEED,
    days: int = DEFAULT_DAYS,
    first_day: date | None = None,
    cutoff_margin_min: int = 5,
) -> DemoPlan:
    if speed <= 0 or days < 1:
        raise ValueError("the demo needs a positive speed and at least one day")
    today = calendar.trading_day_for(now)
    if first_day is None:
        notable = notable_day(calendar, today)
        # The session before the notable day (never today's, which is already under way).
        first_day = calendar.previous_trading_day(notable) if notable else calendar.next_trading_day(today)
        if first_day <= today:
            first_day = calendar.next_trading_day(today)
    elif not calendar.is_trading_day(first_day):
        raise ValueError(f"{first_day} is not an NYSE trading day")
    previous = calendar.previous_trading_day(first_day)
    start_at = calendar.session_times(previous, cutoff_margin_min).market_close + START_AFTER_CLOSE
    end_at = start_at + timedelta(days=days)
    sessions, notes = [], []
    day = first_day
    while calendar.session_times(day, cutoff_margin_min).market_close <= end_at:
        sessions.append(day)
        day = calendar.next_trading_day(day)
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        if day.weekday() == 5:
            notes.append(CalendarNote(day, "weekend"))
        elif day.weekday() < 5 and not calendar.is_trading_day(day):
            notes.append(CalendarNote(day, "holiday"))
        elif calendar.is_trading_day(day) and calendar.session_times(day, 0).is_early_close:
            notes.append(CalendarNote(day, "early close"))
    return DemoPlan(
        first_day, start_at.astimezone(UTC), end_at.astimezone(UTC), speed, tuple(sessions), tuple(notes)
    )
