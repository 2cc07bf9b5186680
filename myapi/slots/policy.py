"""Prediction slots as a pure function of a few stored numbers and the clock.

* Every player has `base` slots (3) per trading day.
* A verified ad adds one slot, at most `max_ad` (7) per day.
* Whenever fewer than `base` slots are available, a cooldown timer runs: each time
  `cooldown` (5 min) elapses, one slot comes back, until `base` are available again.
* The day's capacity never exceeds `base + max_ad` (10).

available = min(cap, base + ad_unlocks + cooldown_unlocks) - used

Nothing is scheduled per player: the timer is a timestamp (`cooldown_started_at`), and
recoveries are counted when the state is next read or written, so an idle player costs
nothing and the result is exact after any restart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SlotRules:
    base: int
    max_ad: int
    cooldown: timedelta

    @property
    def cap(self) -> int:
        return self.base + self.max_ad


@dataclass(frozen=True)
class SlotState:
    base: int
    used: int
    ad_unlocks: int
    cooldown_unlocks: int
    cooldown_started_at: datetime | None

    def capacity(self, rules: SlotRules) -> int:
        return min(rules.cap, self.base + self.ad_unlocks + self.cooldown_unlocks)

    def available(self, rules: SlotRules) -> int:
        return max(0, self.capacity(rules) - self.used)

    def cooldown_until(self, rules: SlotRules) -> datetime | None:
        if self.cooldown_started_at is None:
            return None
        return self.cooldown_started_at + rules.cooldown


def _needs_timer(state: SlotState, rules: SlotRules) -> bool:
    return state.available(rules) < state.base and state.capacity(rules) < rules.cap


def _normalise_timer(state: SlotState, rules: SlotRules, now: datetime) -> SlotState:
    if not _needs_timer(state, rules):
        return replace(state, cooldown_started_at=None)
    if state.cooldown_started_at is None:
        return replace(state, cooldown_started_at=now)
    return state


def recover(state: SlotState, rules: SlotRules, now: datetime) -> tuple[SlotState, int]:
    """Apply every cooldown recovery due by `now`; returns the new state and how many
    slots came back."""
    started = state.cooldown_started_at
    if started is None or not _needs_timer(state, rules):
        return _normalise_timer(state, rules, now), 0
    elapsed_periods = int((now - started) / rules.cooldown)
    room = min(state.base - state.available(rules), rules.cap - state.capacity(rules))
    recovered = max(0, min(elapsed_periods, room))
    if recovered == 0:
        return state, 0
    after = replace(
        state,
        cooldown_unlocks=state.cooldown_unlocks + recovered,
        cooldown_started_at=started + recovered * rules.cooldown,
    )
    # If more is still missing, the next period runs on from the last recovery.
    if not _needs_timer(after, rules):
        after = replace(after, cooldown_started_at=None)
    return after, recovered


def consume(state: SlotState, rules: SlotRules, now: datetime) -> SlotState:
    """Use one slot (the caller has checked one is available)."""
    return _normalise_timer(replace(state, used=state.used + 1), rules, now)


def refund(state: SlotState, rules: SlotRules, now: datetime) -> SlotState:
    """Give one slot back (a cancelled prediction)."""
    return _normalise_timer(replace(state, used=max(0, state.used - 1)), rules, now)


def add_ad_unlock(state: SlotState, rules: SlotRules, now: datetime) -> SlotState:
    return _normalise_timer(replace(state, ad_unlocks=state.ad_unlocks + 1), rules, now)


def can_unlock_by_ad(state: SlotState, rules: SlotRules) -> bool:
    return state.ad_unlocks < rules.max_ad and state.capacity(rules) < rules.cap
