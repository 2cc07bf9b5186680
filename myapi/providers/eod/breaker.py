"""A circuit breaker per EOD provider, on the injected clock.

    closed    --failure_threshold consecutive failures-->  open
    open      --reset_after_s elapsed, next allow()------>  half_open (one trial call)
    half_open --record_success()------------------------->  closed
    half_open --record_failure()------------------------->  open (timer restarts)

While open, `allow()` answers False so the caller skips the provider (and falls back
to the next one) instead of hammering a vendor that is down or rate-limiting us. In
half_open exactly one caller gets True; the others get False until that trial ends (or,
should the trial never report back, until another reset_after_s has passed).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Literal

from myapi.core.clock import Clock

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self, name: str, clock: Clock, failure_threshold: int = 3, reset_after_s: float = 60
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_after_s < 0:
            raise ValueError("reset_after_s must not be negative")
        self.name = name
        self.clock = clock
        self.failure_threshold = failure_threshold
        self.reset_after = timedelta(seconds=reset_after_s)
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at: datetime | None = None
        self._trial_started_at: datetime | None = None

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose timeout has passed reads half_open."""
        with self._lock:
            self._maybe_half_open()
            return self._state

    @property
    def consecutive_failures(self) -> int:
        with self._lock:
            return self._failures

    def allow(self) -> bool:
        """May the caller call the provider now? In half_open, True for one trial only."""
        with self._lock:
            self._maybe_half_open()
            if self._state == "closed":
                return True
            if self._state == "half_open":
                now = self.clock.now()
                stale = (
                    self._trial_started_at is not None and now - self._trial_started_at >= self.reset_after
                )
                if self._trial_started_at is None or stale:
                    self._trial_started_at = now
                    return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._state = "closed"
            self._failures = 0
            self._opened_at = None
            self._trial_started_at = None

    def record_failure(self) -> None:
        with self._lock:
            self._maybe_half_open()
            self._failures += 1
            if self._state == "open":
                return  # a call that started before the breaker opened; keep the timer
            if self._state == "half_open" or self._failures >= self.failure_threshold:
                self._open()

    def _open(self) -> None:
        self._state = "open"
        self._opened_at = self.clock.now()
        self._trial_started_at = None

    def _maybe_half_open(self) -> None:
        if (
            self._state == "open"
            and self._opened_at is not None
            and self.clock.now() - self._opened_at >= self.reset_after
        ):
            self._state = "half_open"
            self._trial_started_at = None

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state!r})"
