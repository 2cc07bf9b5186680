"""The two-week simulation (tests/simulation/): a driver that plays the game for many
players over HTTP, and brute-force recomputations of every figure the game derives —
notifications (SETTLEMENT, STREAK, CALENDAR), leaderboard ranks, stats, streaks and
badges, the crowd — each from the raw rows of crypto.predictions, crypto.points_ledger
and crypto.users, counted in Python (never through the product's queries or services).

The rules recomputed here are the documented ones (docs/api.md, issue 12):

* SETTLEMENT "settled:<D>": per player with a not-cancelled prediction on D —
  {trading_day, predictions, wins (CORRECT), voids, points}.
* STREAK "streak:<D>": S_D = trailing CORRECT over the player's decided (CORRECT /
  INCORRECT) predictions of days <= D in (trading_day, id) order, S_prev the same over
  days < D; the largest milestone M of STREAK_MILESTONES with S_prev < M <= S_D, if any,
  for a player with a decided prediction on D — {trading_day, milestone, streak}.
* CALENDAR "calendar:<N>": N the next session after D; when a weekday strictly between
  D and N is no session, or N closes early: per player with a not-cancelled prediction
  on D — {next_trading_day, holidays, early_close, …}.
* Leaderboard: per period (week from Monday, month from the 1st, all), active players
  with a settled prediction in it, by points (the ledger's settlement entries), wins,
  then user id; percentile = share of ranked players at or below (top 100).
* Stats: totals by status, win rate correct / decided (4 places), current / best run of
  CORRECT among decided ones (VOID skipped), points won, per symbol, badges.
* Crowd: per symbol, UP / DOWN of not-cancelled predictions, up share, right share =
  correct / decided (None when none is decided).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import exchange_calendars as xcals
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from tests.support.http import bearer, error_code

STREAK_MILESTONES = (3, 5, 10, 25, 50, 100)
WIN_POINTS = 50
DECIDED = ("CORRECT", "INCORRECT")
SETTLED = ("CORRECT", "INCORRECT", "VOID")
CALENDAR_KEYS = ("next_trading_day", "holidays", "early_close")
ALL_TIME_START = date(1970, 1, 1)

# Badge code -> the documented rule over a player's record (docs/api.md, /v1/predictions/stats).
BADGE_RULES = {
    "FIRST_WIN": lambda s: s["correct"] >= 1,
    "FIVE_IN_A_ROW": lambda s: s["best_streak"] >= 5,
    "TEN_IN_A_ROW": lambda s: s["best_streak"] >= 10,
    "CENTURY": lambda s: s["total"] >= 100,
    "SHARPSHOOTER": lambda s: s["correct"] + s["incorrect"] >= 20 and (s["win_rate"] or 0) >= 0.6,
}


# --- raw rows -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PredictionRow:
    id: int
    trading_day: date
    user_id: int
    symbol: str
    choice: str
    status: str
    points_awarded: int
    baseline_price: Decimal | None
    void_reason: str | None


@dataclass(frozen=True)
class UserRow:
    id: int
    nickname: str
    is_active: bool


@dataclass(frozen=True)
class NotificationRow:
    user_id: int
    category: str
    dedup_key: str
    data: dict[str, Any]


@dataclass
class Tables:
    """The raw rows every recomputation starts from."""

    predictions: list[PredictionRow]
    users: dict[int, UserRow]
    # Settlement ledger entries (awards and reversals), summed per (user, trading day).
    settlement_points: dict[tuple[int, date], int]
    # The latest vendor revision's close per (day, symbol).
    closes: dict[tuple[date, str], Decimal]
    notifications: list[NotificationRow]

    def live(self) -> list[PredictionRow]:
        return [p for p in self.predictions if p.status != "CANCELLED"]


def load_tables(conn: Connection) -> Tables:
    predictions = [
        PredictionRow(
            int(r.id),
            r.trading_day,
            int(r.user_id),
            r.symbol,
            str(r.choice),
            str(r.status),
            int(r.points_awarded),
            r.baseline_price,
            r.void_reason,
        )  # fmt: skip
        for r in conn.execute(
            text(
                "SELECT id, trading_day, user_id, symbol, choice, status, points_awarded, "
                "baseline_price, void_reason FROM crypto.predictions ORDER BY id"
            )
        )
    ]
    users = {
        int(r.id): UserRow(int(r.id), str(r.nickname), bool(r.is_active))
        for r in conn.execute(text("SELECT id, nickname, is_active FROM crypto.users"))
    }
    points: dict[tuple[int, date], int] = defaultdict(int)
    for r in conn.execute(
        text(
            "SELECT user_id, trading_day, delta_points FROM crypto.points_ledger "
            "WHERE ref_type IN ('SETTLEMENT', 'SETTLEMENT_REVERSAL')"
        )
    ):
        points[(int(r.user_id), r.trading_day)] += int(r.delta_points)
    closes: dict[tuple[date, str], Decimal] = {}
    for r in conn.execute(
        text("SELECT asof, symbol, close_price FROM crypto.eod_prices ORDER BY asof, symbol, vendor_rev")
    ):
        closes[(r.asof, r.symbol)] = r.close_price  # the highest revision is read last
    notifications = [
        NotificationRow(int(r.user_id), str(r.category), str(r.dedup_key), dict(r.data))
        for r in conn.execute(
            text("SELECT user_id, category, dedup_key, data FROM crypto.notifications ORDER BY id")
        )
    ]
    return Tables(predictions, users, dict(points), closes, notifications)


# --- the market calendar, straight from exchange_calendars --------------------------------
_XNYS = xcals.get_calendar("XNYS", start="2026-01-01", end="2027-12-31")


def is_session(day: date) -> bool:
    return bool(_XNYS.is_session(day.isoformat()))


def next_session(day: date) -> date:
    following = day + timedelta(days=1)
    while not is_session(following):
        following += timedelta(days=1)
    return following


def is_early_close(day: date) -> bool:
    close = _XNYS.session_close(day.isoformat()).tz_convert("America/New_York")
    return bool(close.hour < 16)


# --- settlement outcomes ------------------------------------------------------------------
def outcome_problems(t: Tables, day: date) -> list[str]:
    """Every not-cancelled prediction of `day` judged by hand (close vs its own baseline),
    and the ledger's settlement points per player equal to their predictions' points."""
    problems = []
    for p in t.live():
        if p.trading_day != day:
            continue
        close = t.closes.get((day, p.symbol))
        if close is None or p.baseline_price is None or close == p.baseline_price:
            expected, points = "VOID", 0
            reason = "EOD_MISSING" if close is None else "NO_BASELINE" if p.baseline_price is None else "FLAT"
        else:
            expected = "CORRECT" if (close > p.baseline_price) == (p.choice == "UP") else "INCORRECT"
            points, reason = (WIN_POINTS if expected == "CORRECT" else 0), None
        if (p.status, p.points_awarded, p.void_reason) != (expected, points, reason):
            problems.append(f"prediction {p.id}: {(p.status, p.points_awarded, p.void_reason)} != "
                            f"{(expected, points, reason)}")  # fmt: skip
    awarded: dict[int, int] = defaultdict(int)
    for p in t.live():
        if p.trading_day == day:
            awarded[p.user_id] += p.points_awarded
    ledger = {u: v for (u, d), v in t.settlement_points.items() if d == day and v}
    if {u: v for u, v in awarded.items() if v} != ledger:
        problems.append(f"{day}: ledger settlement points {ledger} != points awarded {dict(awarded)}")
    return problems


# --- notifications ------------------------------------------------------------------------
Expected = dict[tuple[int, str], tuple[str, dict[str, Any]]]  # (user, dedup key) -> (category, data)


def _decided_by_user(t: Tables) -> dict[int, list[PredictionRow]]:
    by_user: dict[int, list[PredictionRow]] = defaultdict(list)
    for p in sorted(t.predictions, key=lambda p: (p.trading_day, p.id)):
        if p.status in DECIDED:
            by_user[p.user_id].append(p)
    return by_user


def trailing_correct(statuses: Sequence[str]) -> int:
    run = 0
    for status in reversed(statuses):
        if status != "CORRECT":
            break
        run += 1
    return run


def best_run(statuses: Iterable[str]) -> int:
    best = run = 0
    for status in statuses:
        run = run + 1 if status == "CORRECT" else 0
        best = max(best, run)
    return best


def expected_notifications(t: Tables, settled_days: Iterable[date]) -> Expected:
    """Every SETTLEMENT, STREAK and CALENDAR notification the settled days must have made."""
    days = set(settled_days)
    out: Expected = {}
    live_by_day_user: dict[tuple[date, int], list[PredictionRow]] = defaultdict(list)
    for p in t.live():
        if p.trading_day in days:
            live_by_day_user[(p.trading_day, p.user_id)].append(p)
    for (day, user), rows in live_by_day_user.items():
        points = t.settlement_points.get((user, day), 0)
        out[(user, f"settled:{day.isoformat()}")] = (
            "SETTLEMENT",
            {
                "trading_day": day.isoformat(),
                "predictions": len(rows),
                "wins": sum(p.status == "CORRECT" for p in rows),
                "voids": sum(p.status == "VOID" for p in rows),
                "points": points,
            },
        )
    for user, decided in _decided_by_user(t).items():
        for day in sorted({p.trading_day for p in decided} & days):
            after = trailing_correct([p.status for p in decided if p.trading_day <= day])
            before = trailing_correct([p.status for p in decided if p.trading_day < day])
            crossed = [m for m in STREAK_MILESTONES if before < m <= after]
            if crossed:
                out[(user, f"streak:{day.isoformat()}")] = (
                    "STREAK",
                    {"trading_day": day.isoformat(), "milestone": max(crossed), "streak": after},
                )
    for day in days:
        following = next_session(day)
        holidays = [
            d.isoformat()
            for d in (day + timedelta(days=n) for n in range(1, (following - day).days))
            if d.weekday() < 5 and not is_session(d)
        ]
        early = is_early_close(following)
        if not holidays and not early:
            continue
        data = {"next_trading_day": following.isoformat(), "holidays": holidays, "early_close": early}
        for d, user in live_by_day_user:
            if d == day:
                out[(user, f"calendar:{following.isoformat()}")] = ("CALENDAR", data)
    return out


def comparable(category: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """A notification's data as the recomputation states it (CALENDAR's carries more)."""
    if category == "CALENDAR":
        return {k: data.get(k) for k in CALENDAR_KEYS}
    return dict(data)


def actual_notifications(rows: Iterable[NotificationRow]) -> Expected:
    out: Expected = {}
    for n in rows:
        key = (n.user_id, n.dedup_key)
        assert key not in out, f"two notifications {key}"
        out[key] = (n.category, comparable(n.category, n.data))
    return out


def diff(actual: Mapping[Any, Any], expected: Mapping[Any, Any], limit: int = 10) -> list[str]:
    """What differs between two mappings (missing, unexpected, different), at most `limit`."""
    lines = [f"missing {k}: {expected[k]}" for k in expected.keys() - actual.keys()]
    lines += [f"unexpected {k}: {actual[k]}" for k in actual.keys() - expected.keys()]
    lines += [
        f"{k}: {actual[k]} != {expected[k]}"
        for k in actual.keys() & expected.keys()
        if actual[k] != expected[k]
    ]
    return sorted(lines, key=str)[:limit]


# --- leaderboard --------------------------------------------------------------------------
def period_bounds(period: str, at: date) -> tuple[date, date]:
    if period == "week":
        start = at - timedelta(days=at.weekday())
        return start, start + timedelta(days=7)
    if period == "month":
        start = at.replace(day=1)
        return start, (start + timedelta(days=31)).replace(day=1)
    return ALL_TIME_START, date(9999, 12, 31)


@dataclass(frozen=True)
class Standing:
    rank: int
    user_id: int
    nickname: str
    points: int
    wins: int
    predictions: int
    percentile: float

    def row(self) -> dict[str, Any]:
        """As a row of GET /v1/leaderboard."""
        return {"rank": self.rank, "nickname": self.nickname, "points": self.points,
                "wins": self.wins, "predictions": self.predictions}  # fmt: skip


def expected_board(t: Tables, period: str, at: date) -> list[Standing]:
    start, end = period_bounds(period, at)
    wins: Counter[int] = Counter()
    settled: Counter[int] = Counter()
    for p in t.predictions:
        if start <= p.trading_day < end and p.status in SETTLED:
            settled[p.user_id] += 1
            wins[p.user_id] += p.status == "CORRECT"
    points: Counter[int] = Counter()
    for (user, day), delta in t.settlement_points.items():
        if start <= day < end:
            points[user] += delta
    players = [u for u in settled if t.users[u].is_active]
    players.sort(key=lambda u: (-points[u], -wins[u], u))
    n = len(players)
    return [
        Standing(
            i + 1, u, t.users[u].nickname, points[u], wins[u], settled[u], round(100.0 * (n - i) / n, 2)
        )  # fmt: skip
        for i, u in enumerate(players)
    ]


# --- stats, streaks, badges ---------------------------------------------------------------
def _rate(correct: int, incorrect: int) -> float | None:
    return round(correct / (correct + incorrect), 4) if correct + incorrect else None


def expected_stats(t: Tables, user_id: int) -> dict[str, Any]:
    """/v1/predictions/stats of a player, by hand (badges as a sorted list of codes)."""
    mine = sorted((p for p in t.live() if p.user_id == user_id), key=lambda p: (p.trading_day, p.id))
    by_status = Counter(p.status for p in mine)
    decided = [p.status for p in mine if p.status in DECIDED]
    stats: dict[str, Any] = {
        "total": len(mine),
        "pending": by_status["PENDING"],
        "correct": by_status["CORRECT"],
        "incorrect": by_status["INCORRECT"],
        "void": by_status["VOID"],
        "win_rate": _rate(by_status["CORRECT"], by_status["INCORRECT"]),
        "current_streak": trailing_correct(decided),
        "best_streak": best_run(decided),
        "points_won": sum(v for (u, _), v in t.settlement_points.items() if u == user_id),
    }
    symbols: dict[str, Counter[str]] = defaultdict(Counter)
    for p in mine:
        if p.status in SETTLED:
            symbols[p.symbol][p.status] += 1
    stats["by_symbol"] = [
        {
            "symbol": s,
            "correct": c["CORRECT"],
            "incorrect": c["INCORRECT"],
            "void": c["VOID"],
            "win_rate": _rate(c["CORRECT"], c["INCORRECT"]),
        }  # fmt: skip
        for s, c in sorted(symbols.items())
    ]
    stats["badges"] = sorted(code for code, rule in BADGE_RULES.items() if rule(stats))
    return stats


def stats_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """The API's stats with badges reduced to their sorted codes."""
    out = dict(body)
    out["badges"] = sorted(b["code"] for b in body["badges"])
    return out


# --- crowd --------------------------------------------------------------------------------
def expected_crowd(t: Tables, day: date, *, settled: bool) -> dict[str, dict[str, Any]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for p in t.live():
        if p.trading_day == day:
            c = counts[p.symbol]
            c[p.choice] += 1
            c["correct"] += p.status == "CORRECT"
            c["decided"] += p.status in DECIDED
    out = {}
    for symbol, c in counts.items():
        total = c["UP"] + c["DOWN"]
        out[symbol] = {
            "up": c["UP"], "down": c["DOWN"], "participants": total,
            "up_share": round(c["UP"] / total, 4) if total else None,
            "right_share": round(c["correct"] / c["decided"], 4) if c["decided"] else None,
        }  # fmt: skip
        if not settled:
            assert out[symbol]["right_share"] is None
    return out


# --- the player driver --------------------------------------------------------------------
@dataclass
class Player:
    index: int
    nickname: str
    style: str  # "light", "normal" or "heavy" (a heavy player watches ads every day)
    user_id: int
    token: str = ""
    active: bool = True

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class Waiting:
    """A player the cooldown turned away (PRED_003), with the pick to try again."""

    player: Player
    until: datetime
    symbol: str
    choice: str


@dataclass
class Turn:
    """What one player did on one day."""

    picks: dict[str, str] = field(default_factory=dict)  # symbol -> choice, the live ones
    tally: Counter[str] = field(default_factory=Counter)
    waiting: Waiting | None = None


T = TypeVar("T")


class PlayerDriver:
    """Plays each trading day for every active player over HTTP. Each player's moves
    come from their own seeded generator (seed, day, player), so the run is the same
    whatever order the players' requests interleave in: players play concurrently (a
    few threads, as real players would), each one's requests in order."""

    def __init__(
        self, api: TestClient, seed: int, players: Sequence[Player], mint: Callable[[int], str], threads: int
    ) -> None:
        self.api = api
        self.seed = seed
        self.players = list(players)
        self.mint = mint
        self.threads = threads
        self.tally: Counter[str] = Counter()
        # (day, user id) -> symbol -> choice: the live predictions the driver made.
        self.picks: dict[tuple[date, int], dict[str, str]] = {}
        self.deleted_on: dict[int, date] = {}

    def active(self) -> list[Player]:
        return [p for p in self.players if p.active]

    def each(self, work: Callable[[Player], T], players: Sequence[Player]) -> list[T]:
        """`work` for every player, a few at a time; the first failure is raised."""
        with ThreadPoolExecutor(self.threads) as pool:
            return list(pool.map(work, players))

    def sign_in(self) -> None:
        """A fresh access token for every active player (tokens expire as the clock moves)."""
        for player in self.active():
            player.token = self.mint(player.user_id)

    def delete_account(self, player: Player, day: date) -> None:
        r = self.api.delete("/v1/users/me", headers=player.auth)
        assert r.status_code == 200 and r.json()["data"]["deactivated"] is True, r.text
        gone = self.api.get("/v1/users/me", headers=player.auth)
        assert gone.status_code == 401, gone.text  # the token stops working at once
        player.active = False
        self.deleted_on[player.user_id] = day
        self.tally["deleted"] += 1

    # --- one trading day -----------------------------------------------------------------
    def play_round(self, day: date, symbols: Sequence[str], base: int) -> list[Waiting]:
        """Every active player: predictions up to the free slots, some changed, some
        cancelled (and some of those made again), ads watched for more slots, and some
        turned away by the cooldown (PRED_003), to come back once it gives a slot."""
        turns = self.each(lambda player: self._turn(player, day, symbols, base), self.active())
        waiting = []
        for player, turn in zip(self.active(), turns, strict=True):
            self.picks[(day, player.user_id)] = turn.picks
            self.tally.update(turn.tally)
            if turn.waiting is not None:
                waiting.append(turn.waiting)
        return waiting

    def _turn(self, player: Player, day: date, symbols: Sequence[str], base: int) -> Turn:
        rng = random.Random(f"{self.seed}:{day.isoformat()}:{player.index}")
        turn = Turn()
        live = turn.picks
        pool = rng.sample(list(symbols), k=min(len(symbols), 15))
        capacity, used = base, 0

        def submit(symbol: str, choice: str) -> None:
            r = self.api.post(f"/v1/predictions/{symbol}", json={"choice": choice}, headers=player.auth)
            assert r.status_code == 202, (player.nickname, symbol, r.text)
            data = r.json()["data"]
            assert (data["trading_day"], data["symbol"], data["choice"]) == (day.isoformat(), symbol, choice)
            assert data["remaining_slots"] == capacity - used, (player.nickname, data, capacity - used)
            live[symbol] = choice
            turn.tally["submitted"] += 1

        target = {"light": rng.choice([0, 1, 1, 2]), "normal": rng.choice([1, 2, 2, 3]), "heavy": 3}
        for _ in range(min(target[player.style], base)):
            used += 1
            submit(pool.pop(), rng.choice(["UP", "DOWN"]))
        if live and rng.random() < 0.25:  # a change of mind: no slot cost
            symbol = rng.choice(sorted(live))
            flipped = "DOWN" if live[symbol] == "UP" else "UP"
            r = self.api.patch(f"/v1/predictions/{symbol}", json={"choice": flipped}, headers=player.auth)
            assert r.status_code == 200 and r.json()["data"]["choice"] == flipped, r.text
            live[symbol] = flipped
            turn.tally["changed"] += 1
        if live and rng.random() < 0.15:  # a cancel: the slot comes back
            symbol = rng.choice(sorted(live))
            r = self.api.delete(f"/v1/predictions/{symbol}", headers=player.auth)
            used -= 1
            assert r.status_code == 200 and r.json()["data"]["remaining_slots"] == capacity - used, r.text
            del live[symbol]
            turn.tally["cancelled"] += 1
            if rng.random() < 0.5:  # made again: the cancelled row comes back
                used += 1
                submit(symbol, rng.choice(["UP", "DOWN"]))
                turn.tally["revived"] += 1
            else:
                again = self.api.patch(
                    f"/v1/predictions/{symbol}", json={"choice": "UP"}, headers=player.auth
                )
                assert again.status_code == 404 and error_code(again) == "PRED_404", again.text
        ads = rng.randint(1, 3) if player.style == "heavy" else int(rng.random() < 0.05)
        for _ in range(ads):
            receipt = self.api.post("/v1/ads/dev-receipt", headers=player.auth)
            assert receipt.status_code == 200, receipt.text
            r = self.api.post(
                "/v1/ads/unlock",
                json={"method": "AD", "receipt": receipt.json()["data"]},
                headers=player.auth,
            )
            assert r.status_code == 200, r.text
            capacity += 1
            assert r.json()["data"]["capacity"] == capacity, r.text
            turn.tally["ads"] += 1
            used += 1
            submit(pool.pop(), rng.choice(["UP", "DOWN"]))
        if used == capacity and (player.style == "heavy" or rng.random() < 0.2):
            symbol, choice = pool.pop(), rng.choice(["UP", "DOWN"])
            r = self.api.post(f"/v1/predictions/{symbol}", json={"choice": choice}, headers=player.auth)
            assert r.status_code == 409 and error_code(r) == "PRED_003", r.text
            until = datetime.fromisoformat(r.json()["error"]["details"]["cooldown_until"])
            turn.waiting = Waiting(player, until, symbol, choice)
            turn.tally["cooldown_refused"] += 1
        return turn

    def after_cooldown(self, day: date, waiting: Sequence[Waiting]) -> None:
        """The players the cooldown turned away try again once it gave a slot back."""

        def again(w: Waiting) -> None:
            status = self.api.get("/v1/ads/status", headers=w.player.auth)
            assert status.status_code == 200, status.text
            left = status.json()["data"]["available"]
            assert left >= 1 and status.json()["data"]["cooldown_unlocks"] >= 1, status.text
            r = self.api.post(f"/v1/predictions/{w.symbol}", json={"choice": w.choice}, headers=w.player.auth)
            assert r.status_code == 202 and r.json()["data"]["remaining_slots"] == left - 1, r.text
            self.picks[(day, w.player.user_id)][w.symbol] = w.choice

        back = [w for w in waiting if w.player.active]
        with ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(again, back))
        self.tally["after_cooldown"] += len(back)
