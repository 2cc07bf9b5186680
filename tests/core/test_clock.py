from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from myapi.core.clock import FrozenClock, ShiftedClock, SystemClock, to_kst


def test_frozen_clock_stands_still_and_moves_on_request() -> None:
    clock = FrozenClock(datetime(2026, 3, 8, 6, 59, tzinfo=UTC))
    assert clock.now() == clock.now()
    assert clock.advance(timedelta(minutes=2)) == datetime(2026, 3, 8, 7, 1, tzinfo=UTC)
    clock.set(datetime(2026, 11, 1, 9, 0, tzinfo=timezone(timedelta(hours=9))))
    assert clock.now() == datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    assert clock.now().tzinfo == UTC


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2026, 1, 1))


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().tzinfo == UTC


def test_kst_rendering() -> None:
    assert to_kst(datetime(2026, 11, 23, 14, 25, tzinfo=UTC)).isoformat() == "2026-11-23T23:25:00+09:00"


def test_a_shifted_clock_holds_at_its_start_until_the_anchor_then_runs_at_its_speed() -> None:
    start = datetime(2026, 12, 22, 21, 2, tzinfo=UTC)
    now = datetime.now(UTC)
    waiting = ShiftedClock(start, now + timedelta(hours=1), speed=1440)
    assert waiting.now() == start  # the anchor is still ahead: the clock has not started
    running = ShiftedClock(start, now - timedelta(seconds=10), speed=1440)
    # 10 real seconds after the anchor, at 1440x: 4 simulated hours (and a little more).
    assert start + timedelta(hours=4) <= running.now() < start + timedelta(days=1)
    with pytest.raises(ValueError, match="positive"):
        ShiftedClock(start, now, speed=0)
