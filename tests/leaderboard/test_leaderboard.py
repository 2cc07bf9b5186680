"""The leaderboard: each player's settled points, wins and predictions over a KST
week, a KST month and all time, refreshed by the settlement follow-up job and read
in rank order (points, wins, user id; active players only) — checked against a
brute-force recount of crypto.predictions, through the queue and the API."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from dependency_injector import providers
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from myapi.cycle.calendar import get_market_calendar
from myapi.events.catalogue import request_settlement
from myapi.events.relay import envelope
from myapi.leaderboard.service import LeaderboardService
from myapi.main import create_app
from myapi.outbox.models import OutboxEvent
from myapi.predictions.service import PredictionService
from myapi.providers.queue import OutgoingMessage
from tests.support.days import AFTER_CLOSE, DAY
from tests.support.factories import add_close, open_day, predict
from tests.support.http import bearer, dev_login
from tests.support.pipeline import Pipeline

SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN")
NAMES = ("ann", "bob", "cid", "dan", "eve", "fay", "gus", "hal")  # ids ascending in this order
Plan = Mapping[str, Sequence[tuple[str, str]]]

# Day 1: Monday 2026-11-23. Baselines AAPL 100.125, MSFT 101.125, NVDA 102.125, AMZN 103.125.
DAY1 = DAY
CLOSES1 = {"AAPL": "101.000000", "MSFT": "100.000000", "NVDA": "102.125000", "AMZN": "104.000000"}
# -> AAPL UP, MSFT DOWN, NVDA flat (VOID), AMZN UP. A win pays the default 50.
PLAN1: Plan = {
    "ann": [("AAPL", "UP"), ("AMZN", "UP")],  # 2 wins
    "bob": [("AAPL", "UP")],  # win
    "cid": [("MSFT", "DOWN"), ("NVDA", "UP")],  # win, VOID
    "dan": [("AAPL", "DOWN"), ("MSFT", "UP")],  # 2 losses
    "eve": [("AMZN", "UP")],  # win
    "gus": [("MSFT", "DOWN")],  # win
    "hal": [("AAPL", "DOWN")],  # loss
}
CANCEL1: Plan = {"fay": [("AAPL", "UP")], "ann": [("MSFT", "DOWN")]}  # fay: only a cancelled one

# Day 2: Tuesday 2026-11-24 (same week, same month), baselines = day 1's closes, and a
# win pays 25 (the reward setting changed): equal points can come with unequal wins.
DAY2 = date(2026, 11, 24)
AFTER_CLOSE2 = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)
CLOSES2 = {"AAPL": "102.000000", "MSFT": "101.000000", "NVDA": "101.000000", "AMZN": "104.000000"}
# -> AAPL UP, MSFT UP, NVDA DOWN, AMZN flat (VOID).
PLAN2: Plan = {
    "bob": [("AAPL", "UP"), ("MSFT", "UP")],  # 2 wins
    "cid": [("NVDA", "UP"), ("AMZN", "DOWN"), ("AAPL", "UP")],  # loss, VOID, win
    "dan": [("AAPL", "UP"), ("MSFT", "UP")],  # 2 wins
    "eve": [("NVDA", "DOWN")],  # win
    "gus": [("MSFT", "DOWN"), ("AMZN", "UP")],  # loss, VOID
}
CANCEL2: Plan = {"eve": [("AAPL", "UP")]}
WIN2 = 25

# Day 3: Tuesday 2026-12-01 (next week, next month), opened after Monday 11/30's close
# (11/30 never opened); baselines from open_day (11/30 closes 100.125, 101.125, ...).
DAY3 = date(2026, 12, 1)
OPEN3 = datetime(2026, 11, 30, 21, 30, tzinfo=UTC)
AFTER_CLOSE3 = datetime(2026, 12, 1, 21, 30, tzinfo=UTC)
CLOSES3 = {"AAPL": "101.000000", "MSFT": "100.000000", "NVDA": "102.125000", "AMZN": "104.000000"}
PLAN3: Plan = {"ann": [("AAPL", "UP")], "hal": [("AAPL", "UP"), ("MSFT", "UP")]}  # win; win, loss

# Week of 11/23 after days 1 and 2, by hand: (nickname, points, wins, predictions), best first.
WEEK1_BY_HAND = [
    ("bob", 100, 3, 3),  # ties Ann on points, more wins
    ("ann", 100, 2, 2),
    ("cid", 75, 2, 5),  # ties Eve on points and wins: the lower user id first
    ("eve", 75, 2, 2),
    ("dan", 50, 2, 4),
    ("gus", 50, 1, 3),
    ("hal", 0, 0, 1),  # a loss still ranks; Fay (only cancelled) does not
]

Auths = dict[str, tuple[dict[str, str], int]]


@pytest.fixture
def api(pipeline: Pipeline) -> Iterator[TestClient]:
    """The app over the pipeline's container (own queues, real commits)."""
    with TestClient(create_app(container=pipeline.container), raise_server_exceptions=False) as client:
        yield client


# --- building the days -----------------------------------------------------------------
def _login(api: TestClient, names: Sequence[str] = NAMES) -> Auths:
    """(auth headers, user id) per player, logged in now (tokens expire as the clock moves)."""
    out: Auths = {}
    for name in names:
        login = dev_login(api, f"{name}@example.com", nickname=name)
        out[name] = (bearer(login["access_token"]), int(login["user"]["id"]))
    return out


def _play(p: Pipeline, ids: Mapping[str, int], plan: Plan, cancels: Plan) -> None:
    with p.session() as s:
        for name, picks in cancels.items():
            for symbol, choice in picks:
                predict(s, p.clock, p.settings, ids[name], symbol, choice)
    for name, picks in cancels.items():
        for symbol, _ in picks:
            with p.session() as s:
                PredictionService(s, p.clock, p.settings, get_market_calendar()).cancel(ids[name], symbol)
    with p.session() as s:
        for name, picks in plan.items():
            for symbol, choice in picks:
                predict(s, p.clock, p.settings, ids[name], symbol, choice)


def _close_and_settle(p: Pipeline, day: date, closes: Mapping[str, str], after: datetime) -> None:
    with p.session() as s:
        for symbol, close in closes.items():
            add_close(s, symbol, day, close)
    p.clock.set(after)
    _settle(p, day)


def _settle(p: Pipeline, day: date) -> None:
    with p.session() as s:
        request_settlement(s, p.clock.now(), day)
    p.pump()
    assert p.scalar("SELECT count(*) FROM crypto.predictions WHERE status = 'PENDING'") == 0


def _two_days(p: Pipeline, api: TestClient) -> dict[str, int]:
    """Days 1 and 2 predicted and settled through the queue; each player's user id."""
    ids = {name: uid for name, (_, uid) in _login(api).items()}
    assert list(ids.values()) == sorted(ids.values())
    with p.session() as s:
        open_day(s, p.clock, p.settings, SYMBOLS, trading_day=DAY1)
    _play(p, ids, PLAN1, CANCEL1)
    _close_and_settle(p, DAY1, CLOSES1, AFTER_CLOSE)
    with p.session() as s:  # baselines: day 1's stored closes
        open_day(s, p.clock, p.settings, SYMBOLS, trading_day=DAY2, with_baselines=False)
    _play(p, ids, PLAN2, CANCEL2)
    cheaper = p.settings.model_copy(update={"points_win_reward": WIN2})
    with p.container.settings.override(providers.Object(cheaper)):
        _close_and_settle(p, DAY2, CLOSES2, AFTER_CLOSE2)
    return ids


def _third_day(p: Pipeline, api: TestClient, ids: Mapping[str, int]) -> None:
    p.clock.set(OPEN3)
    with p.session() as s:
        open_day(s, p.clock, p.settings, SYMBOLS, trading_day=DAY3)
    _play(p, ids, PLAN3, {})
    _close_and_settle(p, DAY3, CLOSES3, AFTER_CLOSE3)


# --- brute force ------------------------------------------------------------------------
def _bounds(period: str, at: date) -> tuple[date, date]:
    if period == "week":
        start = at - timedelta(days=at.weekday())
        return start, start + timedelta(days=7)
    if period == "month":
        start = at.replace(day=1)
        return start, date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return date(1970, 1, 1), date(9999, 12, 31)


def _expected(p: Pipeline, period: str, at: date) -> tuple[date, list[dict[str, Any]]]:
    """Period start and the ranked rows (with user_id), recounted row by row in Python."""
    start, end = _bounds(period, at)
    with p.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.user_id, p.trading_day, p.status, p.points_awarded, u.nickname, u.is_active "
                "FROM crypto.predictions p JOIN crypto.users u ON u.id = p.user_id"
            )
        ).all()
    totals: dict[int, dict[str, Any]] = defaultdict(lambda: {"points": 0, "wins": 0, "predictions": 0})
    for r in rows:
        if r.status not in ("CORRECT", "INCORRECT", "VOID"):
            continue
        if r.status != "CORRECT":
            assert r.points_awarded == 0
        if not (start <= r.trading_day < end) or not r.is_active:
            continue
        t = totals[int(r.user_id)]
        t["nickname"] = r.nickname
        t["predictions"] += 1
        if r.status == "CORRECT":
            t["wins"] += 1
            t["points"] += int(r.points_awarded)
    order = sorted(totals, key=lambda uid: (-totals[uid]["points"], -totals[uid]["wins"], uid))
    ranked = [
        {
            "rank": i + 1,
            "user_id": uid,
            **{k: totals[uid][k] for k in ("nickname", "points", "wins", "predictions")},
        }
        for i, uid in enumerate(order)
    ]
    return start, ranked


def _board(api: TestClient, auth: dict[str, str], **params: object) -> dict[str, Any]:
    r = api.get("/v1/leaderboard", params=params, headers=auth)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _me(api: TestClient, auth: dict[str, str], **params: object) -> dict[str, Any]:
    r = api.get("/v1/leaderboard/me", params=params, headers=auth)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def _check(p: Pipeline, api: TestClient, auths: Auths, period: str, at: date) -> list[dict[str, Any]]:
    """The API's list (every page size) and every player's /me equal the brute force."""
    start, expected = _expected(p, period, at)
    rows = [{k: v for k, v in e.items() if k != "user_id"} for e in expected]
    viewer = next(iter(auths.values()))[0]
    body = _board(api, viewer, period=period, at=at.isoformat(), limit=100)
    assert body["data"] == rows, (period, at)
    assert body["meta"]["total"] == len(rows)
    assert (body["meta"]["period"], body["meta"]["period_start"]) == (period, start.isoformat())
    for size in (1, 2, 3):  # paging never repeats or skips
        paged: list[dict[str, Any]] = []
        for offset in range(0, len(rows) + size, size):
            page = _board(api, viewer, period=period, at=at.isoformat(), limit=size, offset=offset)
            assert page["meta"]["total"] == len(rows)
            paged += page["data"]
        assert paged == rows, (period, at, size)
    by_user = {e["user_id"]: e for e in expected}
    n = len(expected)
    for auth, uid in auths.values():
        mine = _me(api, auth, period=period, at=at.isoformat())
        e = by_user.get(uid)
        assert mine == {
            "period": period,
            "period_start": start.isoformat(),
            "ranked": e is not None,
            "rank": e["rank"] if e else None,
            "points": e["points"] if e else 0,
            "wins": e["wins"] if e else 0,
            "predictions": e["predictions"] if e else 0,
            "percentile": round(100.0 * (n - e["rank"] + 1) / n, 2) if e else None,
            "ranked_players": n,
        }, (period, at, uid)
    return expected


def _summary(p: Pipeline) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with p.engine.connect() as conn:
        board = conn.execute(text("SELECT * FROM crypto.leaderboard ORDER BY period, period_start, user_id"))
        days = conn.execute(text("SELECT * FROM crypto.player_days ORDER BY trading_day, user_id"))
        return [dict(r._mapping) for r in board], [dict(r._mapping) for r in days]


def _as_hand(rows: list[dict[str, Any]]) -> list[tuple[str, int, int, int]]:
    return [(r["nickname"], r["points"], r["wins"], r["predictions"]) for r in rows]


# --- 1. totals and ranks over periods -------------------------------------------------------
def test_totals_and_ranks_of_every_period_equal_a_recount_of_the_predictions(
    pipeline: Pipeline, api: TestClient
) -> None:
    p = pipeline
    ids = _two_days(p, api)
    auths = _login(api)
    week1 = _check(p, api, auths, "week", DAY2)
    assert _as_hand(week1) == WEEK1_BY_HAND
    assert _check(p, api, auths, "month", DAY1) == week1  # the same two days
    assert _check(p, api, auths, "all", DAY1) == week1
    # Any day inside the week names the same week; the default `at` is today (KST 11/25).
    assert (
        _board(api, auths["ann"][0], period="week", at="2026-11-29", limit=100)["data"]
        == _board(api, auths["ann"][0], limit=100)["data"]
    )

    _third_day(p, api, ids)
    auths = _login(api)
    week2 = _check(p, api, auths, "week", DAY3)
    assert _as_hand(week2) == [("ann", 50, 1, 1), ("hal", 50, 1, 2)]  # tie: Ann's lower id
    assert _check(p, api, auths, "month", DAY3) == week2
    # Defaults: this week and this month (today is 12/2 KST).
    ann = auths["ann"][0]
    assert _board(api, ann)["meta"]["period_start"] == "2026-11-30"
    assert _board(api, ann, limit=100)["data"] == _board(api, ann, at="2026-12-01", limit=100)["data"]
    assert _board(api, ann, period="month")["meta"]["period_start"] == "2026-12-01"
    # `at` selects the previous week and month: unchanged by day 3.
    assert _check(p, api, auths, "week", DAY1) == week1
    assert _check(p, api, auths, "month", date(2026, 11, 30)) == week1
    everything = _check(p, api, auths, "all", DAY3)
    assert _as_hand(everything)[:3] == [("ann", 150, 3, 3), ("bob", 100, 3, 3), ("cid", 75, 2, 5)]
    assert len(everything) == 7
    # A week with nobody settled: empty, total 0.
    empty = _board(api, ann, period="week", at="2026-11-16")
    assert empty["data"] == [] and empty["meta"]["total"] == 0


# --- 2. deactivated players -----------------------------------------------------------------
def test_a_deactivated_player_leaves_the_board_and_the_ranks_close_up(
    pipeline: Pipeline, api: TestClient
) -> None:
    p = pipeline
    ids = _two_days(p, api)
    auths = _login(api)
    with p.engine.begin() as conn:
        conn.execute(text("UPDATE crypto.users SET is_active = false WHERE id = :u"), {"u": ids["bob"]})
    active = {n: a for n, a in auths.items() if n != "bob"}
    for period in ("week", "month", "all"):
        rows = _check(p, api, active, period, DAY1)
        assert _as_hand(rows) == WEEK1_BY_HAND[1:], period
        assert [r["rank"] for r in rows] == list(range(1, 7))
    assert _me(api, auths["ann"][0], at=DAY1.isoformat()) == {
        "period": "week", "period_start": "2026-11-23", "ranked": True, "rank": 1, "points": 100,
        "wins": 2, "predictions": 2, "percentile": 100.0, "ranked_players": 6,
    }  # fmt: skip
    assert _me(api, auths["hal"][0], at=DAY1.isoformat())["percentile"] == round(100 / 6, 2)
    # Bob's token stops working at once (the guard); his standing is "not ranked".
    assert api.get("/v1/leaderboard/me", headers=auths["bob"][0]).status_code == 401
    with p.session() as s:
        standing = LeaderboardService(s, p.clock).mine("week", DAY1, ids["bob"])
    assert standing.entry is None and standing.percentile is None and standing.ranked_players == 6
    # Reactivated, he is back in his place.
    with p.engine.begin() as conn:
        conn.execute(text("UPDATE crypto.users SET is_active = true WHERE id = :u"), {"u": ids["bob"]})
    assert _as_hand(_check(p, api, _login(api), "week", DAY1)) == WEEK1_BY_HAND


# --- 3. idempotent, and revisions follow ------------------------------------------------------
def test_redelivery_changes_nothing_and_a_revision_moves_the_totals(
    pipeline: Pipeline, api: TestClient
) -> None:
    p = pipeline
    ids = _two_days(p, api)
    before = _summary(p)
    assert len(before[0]) == 3 * 7 and len(before[1]) == 7 + 5
    with p.session() as s:
        completed = list(
            s.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.topic == "settlement.completed")
                .order_by(OutboxEvent.id)
            )
        )
        s.expunge_all()
    assert len(completed) == 2
    p.clock.advance(timedelta(minutes=5))
    name = p.settings.queue_names["settlement_compute"]
    for event in completed:
        p.container.queue().send_batch(name, [OutgoingMessage(envelope(event)) for _ in range(3)])
        assert p.worker("settlement_compute").drain() == 3
    assert _summary(p) == before  # same rows, same updated_at
    runs = "SELECT count(*) FROM crypto.job_runs WHERE job = 'settlement.follow_up' AND status = 'SUCCEEDED'"
    assert p.scalar(runs) == 2 + 6

    # Day 1's AAPL actually fell: AAPL UP (Ann, Bob) now lose, AAPL DOWN (Dan, Hal) win.
    with p.session() as s:
        add_close(s, "AAPL", DAY1, "99.000000", vendor_rev=1)
    p.clock.advance(timedelta(minutes=30))
    _settle(p, DAY1)
    auths = _login(api)
    for period in ("week", "month", "all"):
        rows = _check(p, api, auths, period, DAY2)
        assert _as_hand(rows) == [
            ("dan", 100, 3, 4), ("cid", 75, 2, 5), ("eve", 75, 2, 2), ("bob", 50, 2, 3),
            ("ann", 50, 1, 2), ("gus", 50, 1, 3), ("hal", 50, 1, 1),
        ], period  # fmt: skip
    after_board, after_days = _summary(p)
    unchanged = {ids[n] for n in ("cid", "eve", "gus")}
    old = {(r["period"], r["user_id"]): r for r in before[0]}
    for row in after_board:
        if row["user_id"] in unchanged:
            assert row == old[(row["period"], row["user_id"])]
        else:
            assert row["updated_at"] == p.clock.now()


# --- 4. unranked players and bad requests -------------------------------------------------------
def test_a_player_without_a_settled_prediction_is_not_ranked(pipeline: Pipeline, api: TestClient) -> None:
    p = pipeline
    ids = _two_days(p, api)
    auths = _login(api)
    with p.session() as s:  # a pending prediction on day 3 does not rank Fay either
        p.clock.set(OPEN3)
        open_day(s, p.clock, p.settings, SYMBOLS, trading_day=DAY3)
        predict(s, p.clock, p.settings, ids["fay"], "AAPL", "UP")
    auths = _login(api)
    # 11/30 21:30 UTC is 12/1 06:30 KST: "this month" is December already, by the KST date.
    assert _board(api, auths["fay"][0], period="month")["meta"]["period_start"] == "2026-12-01"
    assert _board(api, auths["fay"][0])["meta"]["period_start"] == "2026-11-30"
    unranked = {
        "ranked": False, "rank": None, "points": 0, "wins": 0, "predictions": 0, "percentile": None,
    }  # fmt: skip
    for period, at in (("week", DAY1), ("month", DAY1), ("all", DAY1), ("week", DAY3)):
        mine = _me(api, auths["fay"][0], period=period, at=at.isoformat())
        assert {k: mine[k] for k in unranked} == unranked, (period, at)
        assert mine["ranked_players"] == (0 if at == DAY3 else 7)
    newcomer, _ = _login(api, ["new"])["new"]
    assert {k: v for k, v in _me(api, newcomer).items() if k in unranked} == unranked


def test_the_leaderboard_needs_a_token_and_a_known_period(api: TestClient) -> None:
    for path in ("/v1/leaderboard", "/v1/leaderboard/me"):
        assert api.get(path).status_code == 401, path
        assert api.get(path, headers=bearer("not-a-token")).status_code == 401, path
    auth, _ = _login(api, ["pat"])["pat"]
    for path in ("/v1/leaderboard", "/v1/leaderboard/me"):
        for params in (
            {"period": "year"},
            {"period": ""},
            {"period": "WEEK"},
            {"at": "2026-13-01"},
            {"at": "x"},
        ):
            assert api.get(path, params=params, headers=auth).status_code == 422, (path, params)
    for paging in ({"limit": 0}, {"limit": 101}, {"offset": -1}):
        assert api.get("/v1/leaderboard", params=paging, headers=auth).status_code == 422, paging
    # The last days a date can hold: a period that starts there is just empty, never a 500.
    for period, at in (("week", "9999-12-31"), ("month", "9999-12-01"), ("all", "9999-12-31")):
        for path in ("/v1/leaderboard", "/v1/leaderboard/me"):
            r = api.get(path, params={"period": period, "at": at}, headers=auth)
            assert r.status_code == 200, (path, period, r.text)
    empty = _board(api, auth, period="all")
    assert empty["data"] == [] and empty["meta"]["total"] == 0
