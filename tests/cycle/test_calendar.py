"""The NYSE calendar, straight from exchange-calendars (no hand-written tables)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from myapi.core.clock import to_kst
from myapi.cycle.calendar import CalendarRangeError, MarketCalendar, get_market_calendar


@pytest.fixture(scope="module")
def cal() -> MarketCalendar:
    return get_market_calendar()


def test_thanksgiving_2026_has_no_session(cal: MarketCalendar) -> None:
    assert not cal.is_trading_day(date(2026, 11, 26))
    assert cal.next_trading_day(date(2026, 11, 25)) == date(2026, 11, 27)
    assert cal.previous_trading_day(date(2026, 11, 27)) == date(2026, 11, 25)


def test_day_after_thanksgiving_closes_early_at_13_et(cal: MarketCalendar) -> None:
    times = cal.session_times(date(2026, 11, 27), cutoff_margin_min=5)
    assert times.is_early_close
    assert times.market_close == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # 13:00 EST


@pytest.mark.parametrize(
    ("day", "cutoff_kst"),
    [
        (date(2026, 3, 6), "2026-03-06T23:25:00+09:00"),  # before the March switch (EST)
        (date(2026, 3, 9), "2026-03-09T22:25:00+09:00"),  # after it (EDT)
        (date(2026, 10, 30), "2026-10-30T22:25:00+09:00"),  # before the November switch
        (date(2026, 11, 2), "2026-11-02T23:25:00+09:00"),  # after it
    ],
)
def test_cutoff_follows_both_2026_dst_switches(cal: MarketCalendar, day: date, cutoff_kst: str) -> None:
    assert to_kst(cal.session_times(day, 5).predict_cutoff).isoformat() == cutoff_kst


def test_weekend_belongs_to_the_next_trading_day(cal: MarketCalendar) -> None:
    saturday_noon_kst = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    assert cal.trading_day_for(saturday_noon_kst) == date(2026, 11, 23)
    assert not cal.is_trading_day(date(2026, 11, 22))


def test_after_the_close_the_game_is_about_the_next_day(cal: MarketCalendar) -> None:
    # Monday 2026-11-23 closes 21:00 UTC (06:00 KST Tuesday).
    assert cal.trading_day_for(datetime(2026, 11, 23, 20, 59, tzinfo=UTC)) == date(2026, 11, 23)
    assert cal.trading_day_for(datetime(2026, 11, 23, 21, 0, tzinfo=UTC)) == date(2026, 11, 24)
    # Wednesday's close rolls over Thanksgiving to Friday.
    assert cal.trading_day_for(datetime(2026, 11, 25, 22, 0, tzinfo=UTC)) == date(2026, 11, 27)


def test_the_calendar_extends_itself_past_its_end() -> None:
    cal = MarketCalendar(date(2026, 6, 1), start=date(2026, 1, 1), end=date(2026, 12, 31))
    assert cal.last_day == date(2026, 12, 31)
    # The first Monday of 2027 is past the end: the calendar is rebuilt further out.
    assert cal.is_trading_day(date(2027, 1, 4)) is True
    assert cal.next_trading_day(date(2026, 12, 31)) == date(2027, 1, 4)
    assert cal.last_day >= date(2030, 1, 1)
    assert cal.is_trading_day(date(2027, 7, 5)) is False  # Independence Day observed


def test_the_initial_end_comes_from_the_clock() -> None:
    cal = MarketCalendar(date(2031, 3, 1), start=date(2030, 1, 1))
    assert cal.end == date(2034, 12, 31)


def test_a_date_far_past_the_calendar_end_fails_loudly() -> None:
    cal = MarketCalendar(date(2026, 6, 1), start=date(2026, 1, 1), end=date(2026, 12, 31))
    with pytest.raises(CalendarRangeError, match="outside the NYSE calendar range"):
        cal.is_trading_day(date(2035, 1, 2))
    with pytest.raises(CalendarRangeError):
        cal.is_trading_day(date(2025, 12, 31))  # before the start


def test_non_trading_day_has_no_session_times(cal: MarketCalendar) -> None:
    with pytest.raises(ValueError, match="not an NYSE trading day"):
        cal.session_times(date(2026, 11, 26), 5)


def test_trading_day_window_cache_agrees_with_a_fresh_lookup(cal: MarketCalendar) -> None:
    """trading_day_for keeps the last close-to-close window; walking instants forwards and
    backwards across Thanksgiving, the early close and a weekend (and exactly onto
    closes) must give what an uncached lookup gives."""
    closes = [cal.session_times(d, 5).market_close for d in (date(2026, 11, 25), date(2026, 11, 27))]
    instants = [datetime(2026, 11, 24, 12, tzinfo=UTC) + timedelta(minutes=37 * i) for i in range(300)]
    instants += closes + [c - timedelta(microseconds=1) for c in closes]
    for instant in instants + instants[::-1]:
        cached = cal.trading_day_for(instant)
        fresh = _uncached(cal).trading_day_for(instant)
        assert cached == fresh, instant
    assert cal.trading_day_for(closes[0]) == date(2026, 11, 27)  # after Wednesday's close: Friday
    assert cal.trading_day_for(closes[0] - timedelta(microseconds=1)) == date(2026, 11, 25)


def _uncached(cal: MarketCalendar) -> MarketCalendar:
    copy = object.__new__(MarketCalendar)
    copy.__dict__.update(cal.__dict__)
    copy._day_window = None
    return copy
