"""The demo's console: it watches the system through the API (the public session, the
operators' job runs and settlement summaries) and says each step of the cycle as it
happens, in simulated time — a day opening, its cutoff, the market's close, the EOD
fetch, the settlement, the week's leaderboard — and the calendar's weekends, holidays
and early closes."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from myapi.core.clock import KST, NEW_YORK, Clock
from scripts.demo.client import ApiClient
from scripts.demo.plan import DemoPlan

POLL_S = 0.25


@dataclass
class Day:
    trading_day: date
    market_close_at: datetime
    early_close: bool
    cutoff_said: bool = False
    close_said: bool = False
    eod_said: bool = False
    settled: dict[str, object] | None = None
    leaders_said: bool = False


@dataclass
class Progress:
    """What the narrator has seen, for the demo's summary and its stop condition."""

    settled: dict[date, dict[str, object]] = field(default_factory=dict)
    first_settled_wall_s: float | None = None
    leaders: list[dict[str, object]] = field(default_factory=list)


class Narrator:
    def __init__(
        self,
        admin: ApiClient,
        clock: Clock,
        plan: DemoPlan,
        counts: Counter[str],
        started: float,
    ) -> None:
        self._api = admin
        self._clock = clock
        self._plan = plan
        self._counts = counts
        self._started = started
        self._days: dict[date, Day] = {}
        self._notes_said: set[date] = set()
        self._print_lock = threading.Lock()
        self.progress = Progress()

    def say(self, line: str) -> None:
        now = self._clock.now().astimezone(KST)
        wall = time.monotonic() - self._started
        with self._print_lock:
            print(f"[{now:%a %m-%d %H:%M} KST | {int(wall) // 60}:{int(wall) % 60:02d}] {line}", flush=True)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # keep narrating; the next poll tries again
                self.say(f"  ! narrator: {type(exc).__name__}: {exc}")
            stop.wait(POLL_S)

    @property
    def done(self) -> bool:
        return all(day in self.progress.settled for day in self._plan.sessions) and bool(
            self.progress.leaders
        )

    def poll(self) -> None:
        now = self._clock.now()
        self._calendar_notes(now)
        session = self._api.get("/v1/session/today")
        if session.ok and session.data["phase"] is not None:
            self._opened(session.data)
        for day in sorted(self._days.values(), key=lambda d: d.trading_day):
            if not day.leaders_said:
                self._follow(day, now)

    def _calendar_notes(self, now: datetime) -> None:
        ny_today = now.astimezone(NEW_YORK).date()
        for note in self._plan.notes:
            if note.day <= ny_today and note.day not in self._notes_said:
                self._notes_said.add(note.day)
                if note.what == "weekend":
                    self.say(f"{note.day:%a %m-%d}: weekend — no session; Monday's board is open all weekend")
                elif note.what == "holiday":
                    self.say(
                        f"{note.day:%a %m-%d}: NYSE holiday — no session (players were told with the "
                        f"previous day's results)"
                    )
                else:
                    self.say(f"{note.day:%a %m-%d}: early close — the market shuts at 13:00 New York time")

    def _opened(self, today: dict[str, object]) -> None:
        day = date.fromisoformat(str(today["trading_day"]))
        if day in self._days:
            return
        close = datetime.fromisoformat(str(today["market_close_at"]))
        self._days[day] = Day(day, close, bool(today["is_early_close"]))
        universe = self._api.get("/v1/universe/today")
        symbols = len(universe.data["items"]) if universe.ok else "?"
        cutoff = datetime.fromisoformat(str(today["predict_cutoff_at"])).astimezone(KST)
        self.say(
            f"day {day} opened: {symbols} symbols with baselines; predictions close at "
            f"{cutoff:%a %H:%M} KST" + (" (early close day)" if today["is_early_close"] else "")
        )

    def _follow(self, day: Day, now: datetime) -> None:
        if day.settled is None and not day.cutoff_said:
            summary = self._summary(day.trading_day) if self._job("session.cutoff", day.trading_day) else None
            if summary is not None:
                day.cutoff_said = True
                made = sum(int(v) for k, v in summary["counts"].items() if k != "cancelled")
                self.say(
                    f"cutoff: the board for {day.trading_day} is closed — {made} predictions "
                    f"(bots so far: {self._counts['ads_watched']} ads watched, "
                    f"{self._counts['cooldown_waits']} times a bot waited out the cooldown)"
                )
        if not day.close_said and now >= day.market_close_at:
            day.close_said = True
            self.say(f"market closed for {day.trading_day}" + (" (early close)" if day.early_close else ""))
        if day.close_said and not day.eod_said:
            run = self._job("eod.fetch", day.trading_day)
            if run is not None:
                day.eod_said = True
                d = run["details"]
                providers = sorted({a["provider"] for a in d.get("attempts", [])}) or ["stored"]
                self.say(
                    f"EOD fetched for {day.trading_day}: {d.get('stored')} of {d.get('requested')} closes "
                    f"({', '.join(providers)})"
                )
        if day.eod_said and day.settled is None:
            summary = self._summary(day.trading_day)
            if summary is not None and summary["settled_at"] is not None:
                day.settled = summary
                self._settled(day, summary)
        if (
            day.settled is not None
            and not day.leaders_said
            and self._job("settlement.follow_up", day.trading_day)
        ):
            day.leaders_said = True
            self._leaders(day.trading_day)

    def _settled(self, day: Day, summary: dict[str, object]) -> None:
        counts: dict[str, int] = summary["counts"]  # type: ignore[assignment]
        self.progress.settled[day.trading_day] = summary
        if self.progress.first_settled_wall_s is None:
            self.progress.first_settled_wall_s = time.monotonic() - self._started
        decided = counts["correct"] + counts["incorrect"] + counts["void"]
        self.say(
            f"settled {day.trading_day}: {decided} predictions — {counts['correct']} correct, "
            f"{counts['incorrect']} incorrect, {counts['void']} void; "
            f"{summary['points_issued']} points awarded"
        )

    def _leaders(self, day: date) -> None:
        board = self._api.get("/v1/leaderboard", period="week", at=day.isoformat(), limit=3)
        if not board.ok:
            return
        self.progress.leaders = list(board.data)
        top = ", ".join(
            f"{r['rank']}. {r['nickname']} {r['points']} pts ({r['wins']} wins)" for r in board.data
        )
        self.say(f"leaderboard, week of {day}: {top or 'nobody ranked yet'}")

    def standings(self, limit: int = 5) -> list[dict[str, object]]:
        """The all-time leaderboard's top: the demo's own total."""
        board = self._api.get("/v1/leaderboard", period="all", limit=limit)
        return list(board.data) if board.ok else []

    def _summary(self, day: date) -> dict[str, object] | None:
        answer = self._api.get(f"/admin/settlement/{day.isoformat()}")
        return answer.data if answer.ok else None

    def _job(self, job: str, day: date) -> dict[str, object] | None:
        """The newest successful run of `job` for `day`, among the job's recent runs."""
        answer = self._api.get("/admin/jobs", job=job, limit=20)
        if not answer.ok:
            return None
        for run in answer.data:
            if run["trading_day"] == day.isoformat() and run["status"] == "SUCCEEDED":
                return dict(run)
        return None
