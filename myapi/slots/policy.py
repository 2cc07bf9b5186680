"""Prediction slots as a pure function of a few stored numbers and the clock (SPEC §5,
as refined by "A fair day"; docs/api.md "Slots, ads and cooldown").

* Every player has `base` slots (3) per trading day.
* A verified ad adds one slot, at most `max_ad` (7) per day. Only ads count against
  that limit.
* Whenever fewer than `base` slots are available, a cooldown timer runs: each time
  `cooldown` (5 min) elapses, one slot comes back, until `base` are available again.
  Recoveries have no daily cap (the day's universe bounds how many predictions a
  player can make) and never count against `max_ad`.

    capacity  = base + ad_unlocks + cooldown_unlocks
    available = capacity - used
    timer     runs iff available < base

The timer is a timestamp, `cooldown_started_at`: when the running period began (the
moment available fell below `base`, or the previous recovery). Nothing is scheduled per
player: recoveries are counted when the state is next read or written, so an idle player
costs nothing and the result is exact after any restart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SlotRules:
    base: int
    max_ad: int
    cooldown: timedelta


@dataclass(frozen=True)
class SlotState:
    base: int
    used: int
    ad_unlocks: int
    cooldown_unlocks: int
    cooldown_started_at: datetime | None

    @property
    def capacity(self) -> int:
        return self.base + self.ad_unlocks + self.cooldown_unlocks

    @property
    def available(self) -> int:
        # Never negative: a slot is only used when one is available.
        return max(0, self.capacity - self.used)

    def cooldown_until(self, rules: SlotRules) -> datetime | None:
        """When the running timer gives the next slot back (None: no timer runs)."""
        if self.cooldown_started_at is None:
            return None
        return self.cooldown_started_at + rules.cooldown


def _needs_timer(state: SlotState) -> bool:
    return state.available < state.base


def _normalise_timer(state: SlotState, now: datetime) -> SlotState:
    """After a change: stop the timer once `base` are available, start it (from `now`)
    when available has just fallen below `base`, else leave the running period alone."""
    if not _needs_timer(state):
        return replace(state, cooldown_started_at=None)
    if state.cooldown_started_at is None:
        return replace(state, cooldown_started_at=now)
    return state


def recover(state: SlotState, rules: SlotRules, now: datetime) -> tuple[SlotState, int]:
    """Apply every cooldown recovery due by `now`; returns the new state and how many
    slots came back (at most enough to make `base` available again)."""
    started = state.cooldown_started_at
    if started is None or not _needs_timer(state):
        return _normalise_timer(state, now), 0
    elapsed_periods = (now - started) // rules.cooldown
    recovered = max(0, min(elapsed_periods, state.base - state.available))
    if recovered == 0:
        return state, 0
    after = replace(
        state,
        cooldown_unlocks=state.cooldown_unlocks + recovered,
        cooldown_started_at=started + recovered * rules.cooldown,
    )
    # If more is still missing, the next period runs on from the last recovery.
    if not _needs_timer(after):
        after = replace(after, cooldown_started_at=None)
    return after, recovered


def consume(state: SlotState, now: datetime) -> SlotState:
    """Use one slot (the caller has checked one is available)."""
    return _normalise_timer(replace(state, used=state.used + 1), now)


def refund(state: SlotState, now: datetime) -> SlotState:
    """Give one slot back (a cancelled prediction)."""
    return _normalise_timer(replace(state, used=max(0, state.used - 1)), now)


def add_ad_unlock(state: SlotState, now: datetime) -> SlotState:
    return _normalise_timer(replace(state, ad_unlocks=state.ad_unlocks + 1), now)


def ad_unlocks_left(state: SlotState, rules: SlotRules) -> bool:
    """Whether the day's ad limit leaves room for another ad (cooldown recoveries do not
    count). The service adds the other condition: the session accepts predictions now."""
    return state.ad_unlocks < rules.max_ad
