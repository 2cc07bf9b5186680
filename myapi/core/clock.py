"""The injectable clock. Business code asks the clock for time, never `datetime.now()`.

Production uses `SystemClock`; tests use `FrozenClock` to freeze time and move it
(across a cutoff, a week, a DST switch). Outside production, `CLOCK_START_AT` (and
`CLOCK_SPEED`, `CLOCK_ANCHOR_AT`) give every process the same `ShiftedClock`: time
starts at CLOCK_START_AT when the real clock reads CLOCK_ANCHOR_AT and runs at
CLOCK_SPEED, so subprocesses (crash tests, a demo) agree on one simulated instant.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ShiftedClock:
    """`start` at the real instant `anchor`, then `speed` simulated seconds per real
    second; before `anchor` it holds at `start` (so a demo can start its processes
    first and its clock when they are up). Several processes built with the same three
    values agree on the time."""

    def __init__(self, start: datetime, anchor: datetime, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self._start = _require_aware(start)
        self._anchor = _require_aware(anchor)
        self._speed = speed

    def now(self) -> datetime:
        elapsed = max(datetime.now(UTC) - self._anchor, timedelta(0))
        return self._start + elapsed * self._speed


class FrozenClock:
    """A clock that stands still until moved. Thread-safe."""

    def __init__(self, at: datetime) -> None:
        self._lock = threading.Lock()
        self._now = _require_aware(at)

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, at: datetime) -> None:
        with self._lock:
            self._now = _require_aware(at)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now = self._now + delta
            return self._now


def make_clock(start_at: datetime | None, anchor_at: datetime | None, speed: float) -> Clock:
    """The process clock from the settings: the system clock unless a start is set."""
    if start_at is None and speed == 1.0:
        return SystemClock()
    now = datetime.now(UTC)
    return ShiftedClock(start_at or now, anchor_at or now, speed)


def _require_aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("clock instants must be timezone-aware")
    return at.astimezone(UTC)


def to_kst(at: datetime) -> datetime:
    """Render an instant in KST, the zone of every timestamp in API responses."""
    return _require_aware(at).astimezone(KST)
