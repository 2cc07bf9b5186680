"""The settlement follow-up's other notices: a streak milestone when a day's results
carry a player's current streak past one (STREAK_MILESTONES), and a notice to a day's
players when the next session follows a weekday holiday or closes early. Checked
against a brute-force recount; each made once however often the follow-up runs."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from myapi.notifications.repository import NotificationsRepository
from myapi.notifications.service import STREAK_MILESTONES
from tests.support.factories import make_user
from tests.support.pipeline import Pipeline

MON = date(2026, 11, 16)
DAYS = [MON + timedelta(days=n) for n in (0, 1, 2, 3, 4, 7, 8, 9)]  # 11-16 .. 11-25, trading days


def _put(p: Pipeline, user_id: int, day: date, statuses: list[str]) -> None:
    """Settled predictions of one player on one day, in this id order."""
    with p.session() as s:
        for i, status in enumerate(statuses):
            symbol = f"S{i}"
            s.execute(
                text(
                    "INSERT INTO crypto.active_universe (trading_day, symbol, seq) "
                    "VALUES (:d, :s, :q) ON CONFLICT DO NOTHING"
                ),
                {"d": day, "s": symbol, "q": i + 1},
            )
            s.execute(
                text(
                    "INSERT INTO crypto.predictions (trading_day, user_id, symbol, choice, status, "
                    "points_awarded, baseline_price, submitted_at, settled_at) VALUES (:d, :u, :s, 'UP', "
                    "CAST(:st AS crypto.prediction_status), :pts, 100, now(), now())"
                ),
                {"d": day, "u": user_id, "s": symbol, "st": status, "pts": 50 if status == "CORRECT" else 0},
            )


def _expected_streaks(p: Pipeline) -> dict[tuple[int, str], dict[str, Any]]:
    """Brute force: replay each player's decided predictions in (day, id) order."""
    with p.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT user_id, trading_day, status FROM crypto.predictions "
                "WHERE status IN ('CORRECT', 'INCORRECT') ORDER BY user_id, trading_day, id"
            )
        ).all()
    by_player: dict[int, list[tuple[date, str]]] = defaultdict(list)
    for r in rows:
        by_player[int(r.user_id)].append((r.trading_day, r.status))
    expected: dict[tuple[int, str], dict[str, Any]] = {}
    for user_id, seq in by_player.items():
        run = 0
        for day in sorted({d for d, _ in seq}):
            before = run
            for d, status in seq:
                if d == day:
                    run = run + 1 if status == "CORRECT" else 0
            crossed = [m for m in STREAK_MILESTONES if before < m <= run]
            if crossed:
                expected[(user_id, day.isoformat())] = {
                    "trading_day": day.isoformat(), "milestone": max(crossed), "streak": run,
                }  # fmt: skip
    return expected


def _notices(p: Pipeline, category: str) -> list[dict[str, Any]]:
    with p.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM crypto.notifications WHERE category = :c ORDER BY user_id, id"),
            {"c": category},
        ).all()
    return [dict(r._mapping) for r in rows]


def test_streak_milestones_are_notified_once_and_match_a_recount(pipeline: Pipeline) -> None:
    p = pipeline
    with p.session() as s:
        ann, bob, cid = (make_user(s, f"{n}@example.com") for n in ("ann", "bob", "cid"))
    plan = {
        # Ann: 3 on day 1 (milestone 3), 2 more (5, via a VOID in between), then a miss.
        ann: [["CORRECT"] * 3, ["CORRECT", "VOID", "CORRECT"], ["INCORRECT"], ["CORRECT"] * 2,
              ["CORRECT"], [], ["CORRECT", "CORRECT"], ["CORRECT"] * 5],
        # Bob: a miss late in a day ends the run that day; one after it starts a new one.
        bob: [["CORRECT", "CORRECT"], ["CORRECT", "INCORRECT", "CORRECT"], ["CORRECT", "CORRECT"],
              ["CORRECT"] * 4, [], [], ["INCORRECT"], []],
        # Cid never gets 3 in a row.
        cid: [["CORRECT", "CORRECT", "INCORRECT"], ["CORRECT", "CORRECT"], ["INCORRECT"],
              [], [], [], [], []],
    }  # fmt: skip
    jobs = p.container.jobs()
    for i, day in enumerate(DAYS):
        for user_id, days in plan.items():
            if days[i]:
                _put(p, user_id, day, days[i])
        for _ in range(3):  # the same settlement.completed, delivered three times
            jobs.follow_up_settlement(day)

    got = {(n["user_id"], n["dedup_key"].removeprefix("streak:")): n["data"] for n in _notices(p, "STREAK")}
    expected = _expected_streaks(p)
    assert got == expected
    # The hand-checked cases: Ann crosses 3 on day 1, 5 on day 2, 3 again after her miss
    # (11-20), 5 on 11-24 and 10 on 11-25; Bob's day-2 miss leaves a run of 1, so he
    # reaches 3 on 11-18 and 5 on 11-19; Cid nothing.
    assert {k: v["milestone"] for k, v in got.items() if k[0] == ann} == {
        (ann, "2026-11-16"): 3, (ann, "2026-11-17"): 5, (ann, "2026-11-20"): 3,
        (ann, "2026-11-24"): 5, (ann, "2026-11-25"): 10,
    }  # fmt: skip
    assert {k: v["milestone"] for k, v in got.items() if k[0] == bob} == {
        (bob, "2026-11-18"): 3, (bob, "2026-11-19"): 5,
    }  # fmt: skip
    assert not [k for k in got if k[0] == cid]
    assert all(n["title"] == f"{n['data']['milestone']} correct in a row!" for n in _notices(p, "STREAK"))


def test_the_players_of_the_day_before_a_holiday_and_an_early_close_are_told_once(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    with p.session() as s:
        ann, bob, cid = (make_user(s, f"{n}@example.com") for n in ("ann", "bob", "cid"))
    wed, fri, mon = date(2026, 11, 25), date(2026, 11, 27), date(2026, 11, 30)
    _put(p, ann, wed, ["CORRECT"])
    _put(p, bob, wed, ["INCORRECT", "VOID"])
    _put(p, cid, date(2026, 11, 24), ["CORRECT"])  # Tuesday: the next session is ordinary
    _put(p, cid, fri, ["CORRECT"])  # Friday (early close) -> Monday: ordinary
    with p.session() as s:  # a cancelled prediction is no part in the day
        s.execute(
            text("UPDATE crypto.predictions SET status = 'CANCELLED', settled_at = NULL WHERE user_id = :u"),
            {"u": bob},
        )
    jobs = p.container.jobs()
    for day in (date(2026, 11, 24), wed, wed, wed, fri):
        result = jobs.follow_up_settlement(day)
    assert result.details["calendar"] == {"next_trading_day": mon.isoformat(), "created": 0}

    notices = _notices(p, "CALENDAR")
    assert [(n["user_id"], n["dedup_key"]) for n in notices] == [(ann, "calendar:2026-11-27")]
    [notice] = notices
    assert notice["data"] == {
        "next_trading_day": "2026-11-27", "holidays": ["2026-11-26"], "early_close": True,
        # 13:00 New York (EST) is 03:00 KST on Saturday; predictions close 5 min before
        # the 09:30 open, 23:25 KST on Friday.
        "close_at": "2026-11-28T03:00:00+09:00", "cutoff_at": "2026-11-27T23:25:00+09:00",
    }  # fmt: skip
    assert notice["title"] == "Market holiday ahead"
    assert notice["body"] == (
        "US markets are closed on Thu 26 Nov. The next session is Fri 27 Nov, closing early "
        "at 03:00 KST; predictions close at Fri 23:25 KST."
    )


def test_the_follow_up_runs_its_day_sized_statements_under_the_settlement_timeout(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every player of a day in one statement: at 1M predictions that outlasts a
    request's DB_STATEMENT_TIMEOUT_MS, so the follow-up takes the settlement's."""
    seen: list[int] = []
    original = NotificationsRepository.upsert_day_results

    def observed(self: NotificationsRepository, trading_day: date, now: datetime) -> tuple[int, int]:
        ms = "SELECT extract(epoch FROM current_setting('statement_timeout')::interval) * 1000"
        seen.append(int(self.session.execute(text(ms)).scalar_one()))
        return original(self, trading_day, now)

    monkeypatch.setattr(NotificationsRepository, "upsert_day_results", observed)
    settlement_ms = pipeline.settings.settlement_statement_timeout_ms
    assert pipeline.settings.db_statement_timeout_ms != settlement_ms
    pipeline.container.jobs().follow_up_settlement(MON)
    assert seen == [settlement_ms]
