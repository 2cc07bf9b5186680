"""The leaderboard (issue 12, part): players ranked by the points their predictions won
over a KST week, a KST month, or all time — read from a summary the settlement
follow-up job refreshes after every settlement run, never from the predictions.

* Periods are of the trading day's date (the KST date its predictions are made on):
  `week` starts on its Monday, `month` on its first day; `all` is every day.
* Rank order: points, then wins (descending), then the older account first; every
  rank is a position (no shared ranks), so paging never repeats or skips a player.
* Only active players are ranked and shown, by nickname only. A player deactivated
  (or reactivated) leaves (or rejoins) the counts at once, through a trigger on
  crypto.users (migration 0012), so the ranks behind them close up (or open) at once.
* Reads never count rows: a rank is computed from per-score counts kept by the refresh
  (see repository.py), so `/me` and any page cost about the same at any board size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from myapi.core.clock import Clock, to_kst
from myapi.leaderboard.repository import ALL_TIME_END, ALL_TIME_START, LeaderboardRepository, Ranked

Period = Literal["week", "month", "all"]
PERIODS: tuple[Period, ...] = ("week", "month", "all")
REFRESH_WORK_MEM = "64MB"  # one refresh at a time (advisory lock), so one such allowance


def period_start(period: Period, day: date) -> date:
    """The first day of the period containing `day` (defined for every date)."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return ALL_TIME_START


def period_bounds(period: Period, day: date) -> tuple[date, date]:
    """[start, end) of the period containing `day` (a trading day: far from date.max)."""
    start = period_start(period, day)
    if period == "week":
        return start, start + timedelta(days=7)
    if period == "month":
        return start, (start + timedelta(days=32)).replace(day=1)
    return start, ALL_TIME_END


@dataclass(frozen=True)
class Standing:
    period: Period
    period_start: date
    entry: Ranked | None
    ranked_players: int

    @property
    def percentile(self) -> float | None:
        """The share of ranked players at or below me, in percent (the top is 100)."""
        if self.entry is None or not self.ranked_players:
            return None
        return round(100.0 * (self.ranked_players - self.entry.rank + 1) / self.ranked_players, 2)


class LeaderboardService:
    def __init__(self, session: Session, clock: Clock, statement_timeout_ms: int = 0) -> None:
        self._repo = LeaderboardRepository(session)
        self._clock = clock
        # The refresh's statements each go over every decided prediction of a day, or
        # every changed player: the settlement's (longer) timeout, not a request's.
        self._statement_timeout_ms = statement_timeout_ms

    def refresh(self, trading_day: date) -> dict[str, object]:
        """After a settlement run of D: D's per-player results rewritten from its
        predictions, and each player whose results changed has the change added to
        every period containing D (totals and score counts). Cost: O(D's players), not
        of the periods' players or their history. Idempotent: a redelivery finds no
        change and writes nothing."""
        now = self._clock.now()
        self._repo.lock()
        before = {"work_mem": self._repo.set_local("work_mem", REFRESH_WORK_MEM)}
        if self._statement_timeout_ms:
            before["statement_timeout"] = self._repo.set_local(
                "statement_timeout", f"{self._statement_timeout_ms}ms"
            )
        staged = self._repo.stage_day(trading_day)
        rows = 0
        if staged.changed:
            for name in PERIODS:
                start = period_start(name, trading_day)
                rows += self._repo.apply_staged(name, start, now, shrunk=staged.shrunk > 0)
        for setting, value in before.items():  # the rest of the follow-up's transaction as it was
            self._repo.set_local(setting, value)
        return {
            "trading_day": trading_day.isoformat(), "players": staged.players,
            "players_changed": staged.changed, "rows_changed": rows,
        }  # fmt: skip

    def rebuild(self, period: Period, at: date) -> dict[str, object]:
        """Recompute the period containing `at` from the per-day results (every player)
        and recount its scores: a repair or a bulk load, O(the period's players). The
        result equals what the refreshes built."""
        start, end = period_bounds(period, at)
        self._repo.lock()
        rows = self._repo.rebuild_period(period, start, end, self._clock.now())
        return {"period": period, "period_start": start.isoformat(), "rows": rows}

    def top(self, period: Period, at: date | None, limit: int, offset: int) -> tuple[date, list[Ranked], int]:
        start = period_start(period, at or self._today())
        return start, self._repo.top(period, start, limit, offset), self._repo.ranked_players(period, start)

    def mine(self, period: Period, at: date | None, user_id: int) -> Standing:
        start = period_start(period, at or self._today())
        return Standing(
            period, start, self._repo.mine(period, start, user_id), self._repo.ranked_players(period, start)
        )

    def _today(self) -> date:
        return to_kst(self._clock.now()).date()
