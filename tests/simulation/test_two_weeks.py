"""Two simulated weeks, Mon 2026-11-16 .. Fri 2026-11-27 (Thanksgiving Thursday closed,
Friday an early close), in which 200 players play every trading day over HTTP: random
UP/DOWN picks up to their slots, changes of mind, cancels (some made again), ads
watched for more slots, the cooldown waited out, and five accounts deleted on the way.
The daily cycle (open, baselines, cutoff, EOD fetch from the sandbox provider,
settlement, the settlement follow-up) runs through the real jobs and queues, on ticks
with the frozen clock moved (as in tests/cycle/test_cycle_month.py, though only at the
instants where something is due, and once a day besides).

Every figure the game derives is checked against a brute-force recount in Python from
the raw rows of the predictions, the points ledger and the users
(tests/support/simulation.py): after each settled day its outcomes, every SETTLEMENT,
STREAK and CALENDAR notification so far, the crowd and the leaderboards; at the end
every player's inbox, stats, streaks and badges (own and public profile), the
leaderboards of both weeks, the month and all time (pages and /me), and every day's
crowd (hidden while the day was open, shown from its cutoff). Then every consumed event
of the outbox is delivered three more times through the queues and nothing changes, and
the integrity checks pass."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from myapi.core.enums import Phase, UserRole
from myapi.cycle.calendar import get_market_calendar
from myapi.cycle.repository import SessionsRepository
from myapi.events.catalogue import JobName, consumed_queues, spec_for
from myapi.events.relay import NOT_SENT_NOTE, envelope
from myapi.main import create_app
from myapi.outbox.models import OutboxEvent
from myapi.providers.queue import OutgoingMessage
from tests.support.db import cycle_steps
from tests.support.factories import add_close, make_user
from tests.support.http import bearer, dev_login, error_code
from tests.support.pipeline import Pipeline
from tests.support.simulation import (
    Expected,
    Player,
    PlayerDriver,
    Tables,
    actual_notifications,
    comparable,
    diff,
    expected_board,
    expected_crowd,
    expected_notifications,
    expected_stats,
    is_early_close,
    is_session,
    load_tables,
    outcome_problems,
    period_bounds,
    stats_view,
)

SEED = 20261116
PLAYERS = 200
THREADS = 4  # players playing at the same time
FIRST, LAST = date(2026, 11, 16), date(2026, 11, 27)
DAYS = [FIRST + timedelta(days=n) for n in range(12) if is_session(FIRST + timedelta(days=n))]
START = datetime(2026, 11, 13, 21, 30, tzinfo=UTC)  # Sat 06:30 KST: Friday closed, nothing open yet
END = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)  # Friday's early close (18:00 UTC) settled
PLAY_AT = timedelta(hours=12)  # 12:00 UTC (21:00 KST) of the trading day, before the cutoff
# Accounts deleted at the start of a day (before playing) and after the day's first round.
DELETE_BEFORE = {date(2026, 11, 19): 2, date(2026, 11, 23): 2}
DELETE_AFTER = {date(2026, 11, 23): 1}
# Days on which one symbol closes exactly at the baseline of its first-round predictions.
FLAT_DAYS = (date(2026, 11, 17), date(2026, 11, 24))
SUCCEEDED = "SELECT count(*) FROM crypto.job_runs WHERE job = :job AND status = 'SUCCEEDED'"
FOLLOW_UPS_OF_DAY = SUCCEEDED + " AND trading_day = :d"
SNAPSHOT_TABLES = {
    "notifications": "id",
    "leaderboard": "period, period_start, user_id",
    "leaderboard_scores": "period, period_start, points, wins",
    "leaderboard_score_blocks": "period, period_start, points, wins, block",
    "player_days": "user_id, trading_day",
    "symbol_crowd": "trading_day, symbol",
    "points_ledger": "id",
    "point_balances": "user_id",
    "predictions": "id",
    "settlements": "trading_day, symbol",
}


@pytest.fixture
def api(pipeline: Pipeline) -> Iterator[TestClient]:
    """The app over the pipeline's container (own queues, real commits)."""
    with TestClient(create_app(container=pipeline.container), raise_server_exceptions=False) as client:
        yield client


def _play_at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + PLAY_AT


def _dedup_of(n: dict[str, Any]) -> str:
    """The dedup key of an inbox item (the API does not show it; its data names it)."""
    data = n["data"]
    if n["category"] == "SETTLEMENT":
        return f"settled:{data['trading_day']}"
    if n["category"] == "STREAK":
        return f"streak:{data['trading_day']}"
    if n["category"] == "CALENDAR":
        return f"calendar:{data['next_trading_day']}"
    return f"{n['category']}:{n['id']}"


class Simulation:
    def __init__(self, p: Pipeline, api: TestClient) -> None:
        self.p = p
        self.api = api
        self.jobs = p.container.jobs()
        self.calendar = get_market_calendar()
        self.codec = p.container.token_codec()
        self.findings: dict[str, list[str]] = defaultdict(list)
        self.settled: list[date] = []
        self.observer_id = int(dev_login(api, "observer@example.com", nickname="observer")["user"]["id"])
        styles = random.Random(SEED)
        with p.session() as s:
            players = [
                Player(
                    i,
                    f"sim{i:03d}",
                    styles.choice(["light"] * 3 + ["normal"] * 6 + ["heavy"]),
                    make_user(s, f"sim{i:03d}@example.com"),
                )  # fmt: skip
                for i in range(PLAYERS)
            ]
        self.driver = PlayerDriver(api, SEED, players, self.mint, THREADS)
        self.rng = random.Random(SEED + 1)

    # --- plumbing --------------------------------------------------------------------------
    def mint(self, user_id: int) -> str:
        """An access token as sign-in issues it (the app's own codec and keys), now."""
        return str(self.codec.issue(user_id, UserRole.USER, self.p.clock.now()).token)

    def observer(self) -> dict[str, str]:
        """A signed-in account that never plays (reads the leaderboard and profiles)."""
        return bearer(self.mint(self.observer_id))

    def tick(self) -> None:
        self.jobs.tick()
        self.flush()

    def flush(self) -> None:
        """Relay the whole outbox, then, if that sent anything, drain the queues until
        nothing moves. (The relay takes the oldest rows first: a day's hundreds of
        prediction events, which no queue carries, come before the EOD fetch request
        made after them.)"""
        self.p.pump_if_sent()

    def tables(self) -> Tables:
        with self.p.engine.connect() as conn:
            return load_tables(conn)

    def note(self, check: str, problems: list[str]) -> None:
        self.findings[check].extend(problems)

    def phase(self, day: date) -> tuple[Phase | None, bool]:
        with self.p.session() as s:
            row = SessionsRepository(s).get(day)
            return (None, False) if row is None else (row.phase, row.settled_at is not None)

    def schedule(self) -> list[datetime]:
        """The instants the scheduler's tick runs at: once a day, and where something is
        due — the day's play, just after the cutoff, and after the close (the EOD fetch
        and settlement, then the next day's open, then a retry)."""
        margin = self.p.settings.predict_cutoff_margin_min
        delay = timedelta(minutes=self.p.settings.eod_fetch_delay_min + 1)
        instants = {START} | {START + timedelta(days=n, hours=2, minutes=30) for n in range(14)}
        for day in DAYS:
            times = self.calendar.session_times(day, margin)
            instants |= {_play_at(day), times.predict_cutoff + timedelta(minutes=5)}
            instants |= {times.market_close + delay + timedelta(minutes=15 * k) for k in range(3)}
        return sorted(t for t in instants if t < END)

    # --- a trading day ---------------------------------------------------------------------
    def play(self, day: date) -> None:
        p, driver = self.p, self.driver
        r = self.api.get("/v1/universe/today")
        assert r.status_code == 200, r.text
        universe = r.json()["data"]
        assert universe["trading_day"] == day.isoformat() and universe["baselines_available"], universe
        symbols = [item["symbol"] for item in universe["items"]]
        driver.sign_in()
        for player in driver.active()[: DELETE_BEFORE.get(day, 0)]:
            driver.delete_account(player, day)
        self.crowd_hidden(day)
        waiting = driver.play_round(day, symbols, p.settings.base_prediction_slots)
        for player in self.rng.sample(driver.active(), DELETE_AFTER.get(day, 0)):
            driver.delete_account(player, day)  # with the day's predictions pending
        self.crowd_hidden(day)
        if day in FLAT_DAYS:
            self.flat_close(day)
        if waiting:
            p.clock.set(max(w.until for w in waiting))
            self.tick()  # the cooldown gave a slot back; baselines moved on meanwhile
            driver.after_cooldown(day, waiting)
        self.crowd_hidden(day)
        self.picks_recorded(day)

    def crowd_hidden(self, day: date) -> None:
        """While the day accepts predictions: no split in /v1/crowd nor /v1/settlements."""
        crowd = self.api.get(f"/v1/crowd/{day.isoformat()}")
        assert crowd.status_code == 200, crowd.text
        assert crowd.json()["data"] == {"trading_day": day.isoformat(), "visible": False, "symbols": []}
        settlement = self.api.get(f"/v1/settlements/{day.isoformat()}")
        assert settlement.status_code == 200, settlement.text
        assert all(s["crowd"] is None for s in settlement.json()["data"]["symbols"])

    def flat_close(self, day: date) -> None:
        """The close of the day's most predicted symbol is its first-round baseline: those
        predictions settle VOID (FLAT); ones made after a baseline refresh need not."""
        with self.p.engine.connect() as conn:
            top = conn.execute(
                text(
                    "SELECT symbol, baseline_price, count(*) AS n FROM crypto.predictions "
                    "WHERE trading_day = :d AND status = 'PENDING' "
                    "GROUP BY 1, 2 ORDER BY n DESC, symbol LIMIT 1"
                ),
                {"d": day},
            ).one()
        assert top.n >= 2, top
        with self.p.session() as s:
            add_close(s, top.symbol, day, str(top.baseline_price))

    def picks_recorded(self, day: date) -> None:
        """The day's live predictions are exactly the players' last choices."""
        stored: dict[int, dict[str, str]] = defaultdict(dict)
        for row in self.tables().live():
            if row.trading_day == day:
                stored[row.user_id][row.symbol] = row.choice
        made = {u: picks for (d, u), picks in self.driver.picks.items() if d == day and picks}
        gone_today = {u for u, d in self.driver.deleted_on.items() if d == day}
        assert {u: v for u, v in stored.items() if u not in gone_today} == {
            u: v for u, v in made.items() if u not in gone_today
        }

    def after_cutoff(self, day: date) -> None:
        """Cut off, not settled yet: the split is shown, nobody is right yet."""
        r = self.api.get(f"/v1/crowd/{day.isoformat()}")
        assert r.status_code == 200, r.text
        body = r.json()["data"]
        assert body["visible"] is True
        shown = {s.pop("symbol"): s for s in body["symbols"]}
        self.note(
            f"crowd after the cutoff of {day}", diff(shown, expected_crowd(self.tables(), day, settled=False))
        )

    def after_settlement(self, day: date) -> None:
        """The day's follow-up ran: outcomes, notifications, crowd and leaderboards."""
        self.settled.append(day)
        t = self.tables()
        self.note(f"outcomes of {day}", outcome_problems(t, day))
        self.note(
            f"notifications after {day}",
            diff(actual_notifications(t.notifications), expected_notifications(t, self.settled)),
        )
        self.crowd_shown(t, day)
        auth = self.observer()
        for period in ("week", "month", "all"):
            self.board(t, auth, period, day)

    # --- figures through the API -------------------------------------------------------------
    def crowd_shown(self, t: Tables, day: date) -> None:
        expected = expected_crowd(t, day, settled=True)
        r = self.api.get(f"/v1/crowd/{day.isoformat()}")
        assert r.status_code == 200, r.text
        body = r.json()["data"]
        assert body["visible"] is True
        shown = {s.pop("symbol"): s for s in body["symbols"]}
        self.note(f"/v1/crowd/{day}", diff(shown, expected))
        r = self.api.get(f"/v1/settlements/{day.isoformat()}")
        assert r.status_code == 200, r.text
        in_settlement = {s["symbol"]: s["crowd"] for s in r.json()["data"]["symbols"]}
        assert len(in_settlement) == 100  # the default universe, every symbol settled
        shown = {k: v for k, v in in_settlement.items() if v is not None}
        self.note(f"/v1/settlements/{day} crowd", diff(shown, expected))

    def board(self, t: Tables, auth: dict[str, str], period: str, at: date) -> None:
        """Every page of GET /v1/leaderboard equals the recount, in order."""
        expected = expected_board(t, period, at)
        rows: list[dict[str, Any]] = []
        total = None
        while total is None or len(rows) < total:
            r = self.api.get(
                "/v1/leaderboard",
                params={"period": period, "at": at.isoformat(), "limit": 100, "offset": len(rows)},
                headers=auth,
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["meta"]["period_start"] == period_bounds(period, at)[0].isoformat()
            total = body["meta"]["total"]
            if not body["data"]:
                break
            rows.extend(body["data"])
        label = f"leaderboard {period} at {at}"
        if total != len(expected):
            self.note(label, [f"total {total} != {len(expected)}"])
        self.note(label, diff(dict(enumerate(rows)), dict(enumerate(s.row() for s in expected))))

    def standing(self, t: Tables, auth: dict[str, str], user_id: int, period: str, at: date) -> list[str]:
        board = expected_board(t, period, at)
        mine = next((s for s in board if s.user_id == user_id), None)
        r = self.api.get("/v1/leaderboard/me", params={"period": period, "at": at.isoformat()}, headers=auth)
        assert r.status_code == 200, r.text
        got = r.json()["data"]
        want = {
            "period": period, "period_start": period_bounds(period, at)[0].isoformat(),
            "ranked": mine is not None, "rank": mine.rank if mine else None,
            "points": mine.points if mine else 0, "wins": mine.wins if mine else 0,
            "predictions": mine.predictions if mine else 0,
            "percentile": mine.percentile if mine else None, "ranked_players": len(board),
        }  # fmt: skip
        return [] if got == want else [f"user {user_id} {period} at {at}: {got} != {want}"]

    def inbox(self, auth: dict[str, str], user_id: int, limit: int = 100) -> Expected:
        """A player's whole inbox through the cursor pages, keyed as the recount."""
        out: Expected = {}
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
            r = self.api.get("/v1/notifications", params=params, headers=auth)
            assert r.status_code == 200, r.text
            body = r.json()
            for n in body["data"]:
                key = (user_id, _dedup_of(n))
                assert key not in out, f"{key} twice in the inbox"
                out[key] = (n["category"], comparable(n["category"], n["data"]))
            cursor = body["meta"]["next_cursor"]
            if cursor is None:
                return out

    # --- the end -------------------------------------------------------------------------------
    def final_checks(self) -> None:
        t = self.tables()
        expected = expected_notifications(t, DAYS)
        self.note("notifications (table)", diff(actual_notifications(t.notifications), expected))
        observer = self.observer()
        periods = [("week", FIRST), ("week", date(2026, 11, 23)), ("month", LAST), ("all", LAST)]
        for period, at in periods:
            self.board(t, observer, period, at)
        self.driver.sign_in()

        def check(player: Player) -> list[tuple[str, str]]:
            problems: list[tuple[str, str]] = []
            stats = expected_stats(t, player.user_id)
            profile = self.api.get(f"/v1/users/{player.nickname}", headers=observer)
            if not player.active:
                assert profile.status_code == 404 and error_code(profile) == "USER_404", profile.text
                return problems
            assert profile.status_code == 200, profile.text
            public = profile.json()["data"]
            assert public["nickname"] == player.nickname and "email" not in public
            if stats_view(public["stats"]) != stats:
                problems.append(("public profile", f"{player.nickname}: {public['stats']} != {stats}"))
            r = self.api.get("/v1/predictions/stats", headers=player.auth)
            assert r.status_code == 200, r.text
            if stats_view(r.json()["data"]) != stats:
                problems.append(("stats", f"{player.nickname}: {r.json()['data']} != {stats}"))
            mine = {k: v for k, v in expected.items() if k[0] == player.user_id}
            inbox = self.inbox(player.auth, player.user_id, limit=4 if player.index % 4 == 0 else 100)
            for line in diff(inbox, mine):
                problems.append(("inbox", f"{player.nickname}: {line}"))
            if player.index % 5 == 0:
                for period, at in periods:
                    lines = self.standing(t, player.auth, player.user_id, period, at)
                    problems += [("leaderboard/me", line) for line in lines]
            return problems

        for problems in self.driver.each(check, self.driver.players):
            for name, line in problems:
                self.note(name, [line])
        self.note("leaderboard/me", self.standing(t, observer, self.observer_id, "all", LAST))
        assert self.inbox(observer, self.observer_id) == {}  # never played: nothing
        for day in DAYS:
            self.crowd_shown(t, day)
        r = self.api.get("/v1/results", params={"from": FIRST.isoformat(), "to": LAST.isoformat()})
        assert r.status_code == 200, r.text
        results = r.json()["data"]
        assert [d["trading_day"] for d in results] == [d.isoformat() for d in reversed(DAYS)]
        for d in results:
            day = date.fromisoformat(d["trading_day"])
            shown = {s["symbol"]: s["crowd"] for s in d["symbols"] if s["crowd"] is not None}
            self.note(f"/v1/results crowd of {day}", diff(shown, expected_crowd(t, day, settled=True)))

    # --- redelivery --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        with self.p.engine.connect() as conn:
            return {
                table: [
                    tuple(r) for r in conn.execute(text(f"SELECT * FROM crypto.{table} ORDER BY {order}"))
                ]
                for table, order in SNAPSHOT_TABLES.items()
            }

    def redeliver_everything(self, times: int) -> Counter[str]:
        """Every consumed event of the outbox sent `times` more times through the queue it
        travels on (the same body; a fresh dedup id on a FIFO queue), and consumed."""
        p = self.p
        with p.session() as s:
            events = list(
                s.scalars(
                    select(OutboxEvent).where(OutboxEvent.published_at.is_not(None)).order_by(OutboxEvent.id)
                )
            )
            s.expunge_all()
        sent: Counter[str] = Counter()
        by_queue: dict[str, list[OutboxEvent]] = defaultdict(list)
        for event in events:
            spec = spec_for(event.topic)
            if spec is None or spec.queue is None or spec.runs is None or event.last_error == NOT_SENT_NOTE:
                continue
            by_queue[p.settings.queue_names[spec.queue]].append(event)
            sent[event.topic] += times
        queue = p.container.queue()
        for k in range(times):
            for name, queued in by_queue.items():
                for i in range(0, len(queued), 10):
                    messages = [
                        OutgoingMessage(
                            envelope(e),
                            group_id=e.group_id or e.topic,
                            dedup_id=f"{e.dedup_id or e.id}-again-{k}"[-128:],
                            attributes={"type": e.topic},
                        )
                        for e in queued[i : i + 10]
                    ]
                    assert not queue.send_batch(name, messages).failed
            self.p.pump()  # sent outside the outbox: drain whatever the relay sends
        return sent


@pytest.mark.slow  # 2-4 min: ~7,000 requests of 200 players over nine trading days, through the queues
@pytest.mark.timeout(900)  # CPU-bound: the default 300 s is too tight on a busy machine
def test_two_weeks_of_200_players_every_figure_equals_a_brute_force_recount(
    pipeline: Pipeline, api: TestClient
) -> None:
    assert date(2026, 11, 26) not in DAYS and len(DAYS) == 9 and is_early_close(LAST)
    p = pipeline
    p.clock.set(START)
    sim = Simulation(p, api)
    played: list[date] = []
    cut: set[date] = set()
    for now in sim.schedule():
        assert p.clock.now() <= now
        p.clock.set(now)
        sim.tick()
        today = sim.calendar.trading_day_for(now)
        if today in DAYS and today not in played and now == _play_at(today):
            assert sim.phase(today)[0] == Phase.PREDICT, today
            sim.play(today)
            played.append(today)
        for day in played:
            if day not in cut and sim.phase(day) == (Phase.SETTLE, False):
                sim.after_cutoff(day)
                cut.add(day)
        for day in played:
            follow_ups = p.scalar(FOLLOW_UPS_OF_DAY, job=str(JobName.SETTLEMENT_FOLLOW_UP), d=day)
            if day not in sim.settled and follow_ups:
                assert day in cut, f"{day} settled before a tick saw it cut off"
                sim.after_settlement(day)
    assert played == DAYS and sim.settled == DAYS
    with p.engine.connect() as conn:
        steps = cycle_steps(conn)
    for step in ("opened", "cut", "fetched", "settled"):
        assert {d: n for d, n in steps[step].items() if FIRST <= d <= LAST} == dict.fromkeys(DAYS, 1), step

    # The run covered every kind of move and outcome it is meant to.
    tally = sim.driver.tally
    assert tally["deleted"] == 5 and tally["changed"] > 100 and tally["cancelled"] > 50, tally
    assert tally["revived"] > 20 and tally["ads"] > 100 and tally["after_cooldown"] > 50, tally
    t = sim.tables()
    statuses = Counter(row.status for row in t.predictions)
    assert statuses["CORRECT"] > 1000 and statuses["INCORRECT"] > 1000 and statuses["PENDING"] == 0
    assert statuses["VOID"] >= 2 and statuses["CANCELLED"] > 20, statuses
    categories = Counter(n.category for n in t.notifications)
    assert categories["SETTLEMENT"] > 1000 and categories["STREAK"] > 20
    milestones = Counter(n.data["milestone"] for n in t.notifications if n.category == "STREAK")
    assert milestones[3] > 20 and milestones[5] > 0, milestones
    assert {p.void_reason for p in t.predictions if p.status == "VOID"} == {"FLAT"}
    wednesday = {row.user_id for row in t.live() if row.trading_day == date(2026, 11, 25)}
    assert categories["CALENDAR"] == len(wednesday) > 100
    print(f"\nsimulated: {dict(tally)} {dict(statuses)} {dict(categories)} milestones {dict(milestones)}")

    sim.final_checks()

    before = sim.snapshot()
    follow_ups = p.scalar(SUCCEEDED, job=str(JobName.SETTLEMENT_FOLLOW_UP))
    p.clock.advance(timedelta(minutes=10))
    sent = sim.redeliver_everything(3)
    assert sent["settlement.completed"] >= 3 * len(DAYS) and sent["eod.fetch.requested"] >= 3 * len(DAYS)
    # Really delivered and run again, every one of them, changing nothing.
    again = p.scalar(SUCCEEDED, job=str(JobName.SETTLEMENT_FOLLOW_UP))
    assert again == follow_ups + sent["settlement.completed"]
    assert sum(p.worker(str(q)).drain() for q in consumed_queues()) == 0
    after = sim.snapshot()
    for table in SNAPSHOT_TABLES:
        changed = diff(dict(enumerate(after[table])), dict(enumerate(before[table])))
        sim.note(f"redelivery changed {table}", changed)

    admin = dev_login(api, "admin@example.com", nickname="admin", role="ADMIN")
    r = api.get("/admin/integrity", headers=bearer(admin["access_token"]))
    assert r.status_code == 200, r.text
    failing = [c for c in r.json()["data"]["checks"] if not c["passed"]]
    sim.note("integrity", [f"{c['name']}: {c['offending']}" for c in failing])

    assert {check: lines for check, lines in sim.findings.items() if lines} == {}
