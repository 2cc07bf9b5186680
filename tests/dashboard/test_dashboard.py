"""GET /admin/dashboard on two days made through the app: Monday 2026-11-23 played,
settled and followed up (its figures from the summary), Tuesday 2026-11-24 open (its
figures counted live). Every figure is hand-checked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from dependency_injector import providers
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.container import Container
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.dashboard.repository import DashboardRepository
from myapi.dashboard.service import LiveCounts, game_days
from myapi.events.catalogue import JobName
from myapi.providers.queue import SqsQueue, dlq_name_for, make_sqs_client
from myapi.settlement.service import SessionNotClosedError
from tests.support.days import AFTER_CLOSE, DAY
from tests.support.factories import add_close, open_day
from tests.support.http import bearer, dev_login, error_code

DAY2 = date(2026, 11, 24)
URL = "/admin/dashboard"
RANGE = {"from": "2026-11-23", "to": "2026-11-24"}


@dataclass
class Seeded:
    admin: dict[str, str]
    a: dict[str, str]
    b: dict[str, str]
    b_id: int


def _login(client: TestClient, email: str, role: str | None = None) -> tuple[dict[str, str], int]:
    login = dev_login(client, email, role=role)
    return bearer(login["access_token"]), int(login["user"]["id"])


def _predict(client: TestClient, auth: dict[str, str], symbol: str, choice: str) -> None:
    r = client.post(f"/v1/predictions/{symbol}", json={"choice": choice}, headers=auth)
    assert r.status_code == 202, r.text


def _get(client: TestClient, auth: dict[str, str], **params: str) -> dict[str, Any]:
    r = client.get(URL, params=params, headers=auth)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


@pytest.fixture
def seeded(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings, container: Container
) -> Seeded:
    """Monday (clock at 10:00 KST): A, B and C sign up (1000 points each); A predicts
    AAPL, MSFT and NVDA UP; B AAPL and MSFT DOWN; C predicts AAPL and cancels it. Closes:
    AAPL up, MSFT down, NVDA flat (VOID). Settled and followed up after the close.
    Tuesday (clock at 06:30 KST): the admin signs up, D signs up; A predicts TSLA UP, D
    TSLA DOWN and META UP; B is adjusted by -30 and redeems a 100-point reward."""
    open_day(db, clock, settings, ["AAPL", "MSFT", "NVDA", "AMZN"])
    db.commit()
    a, _ = _login(client, "dash.a@example.com")
    b, b_id = _login(client, "dash.b@example.com")
    c, _ = _login(client, "dash.c@example.com")
    for symbol in ("AAPL", "MSFT", "NVDA"):
        _predict(client, a, symbol, "UP")
    for symbol in ("AAPL", "MSFT"):
        _predict(client, b, symbol, "DOWN")
    _predict(client, c, "AAPL", "UP")
    assert client.delete("/v1/predictions/AAPL", headers=c).status_code in (200, 204)
    add_close(db, "AAPL", DAY, "101.000000")  # baseline 100.125: UP wins
    add_close(db, "MSFT", DAY, "100.000000")  # baseline 101.125: DOWN wins
    add_close(db, "NVDA", DAY, "102.125000")  # = baseline: VOID
    db.commit()

    clock.set(AFTER_CLOSE)  # Tuesday 06:30 KST: Tuesday's game day
    jobs = container.jobs()
    jobs.settle(DAY)
    jobs.follow_up_settlement(DAY)
    open_day(db, clock, settings, ["TSLA", "META"], trading_day=DAY2)
    db.commit()
    a, _ = _login(client, "dash.a@example.com")  # Monday's tokens have expired (no new bonus)
    b, _ = _login(client, "dash.b@example.com")
    admin, _ = _login(client, "dash.admin@example.com", role="ADMIN")
    d, _ = _login(client, "dash.d@example.com")
    _predict(client, a, "TSLA", "UP")
    _predict(client, d, "TSLA", "DOWN")
    _predict(client, d, "META", "UP")
    r = client.post(
        f"/admin/users/{b_id}/adjust-points", json={"delta": -30, "reason": "test"}, headers=admin
    )
    assert r.status_code == 200, r.text
    item = {"sku": "DASH-100", "title": "Dash card", "cost_points": 100, "stock": 5, "vendor": "sandbox"}
    assert client.post("/admin/rewards/inventory", json=item, headers=admin).status_code == 200
    assert client.post("/v1/rewards/redeem", json={"sku": "DASH-100"}, headers=b).status_code == 202
    return Seeded(admin, a, b, b_id)


NOW_KST = "2026-11-24T06:30:00+09:00"  # the clock after the close: the follow-up and every count
MONDAY = {
    "day": "2026-11-23", "dau": 3, "predictions": 5, "participants": 2, "win_rate": 0.5,
    "void_rate": 0.2, "points_issued": 3 * 1000 + 2 * 50, "points_spent": 0, "live": False, "as_of": NOW_KST,
}  # fmt: skip
TUESDAY = {
    "day": "2026-11-24", "dau": 4, "predictions": 3, "participants": 2, "win_rate": None,
    "void_rate": None, "points_issued": 2 * 1000, "points_spent": 30, "live": True, "as_of": NOW_KST,
}  # fmt: skip


def test_the_dashboard_of_two_seeded_days_is_exact(
    client: TestClient, db: Session, settings: Settings, seeded: Seeded
) -> None:
    data = _get(client, seeded.admin, **RANGE)
    assert list(data) == [
        "from",
        "to",
        "totals",
        "redemptions",
        "queues",
        "outbox",
        "jobs",
        "symbols",
        "series",
    ]
    assert (data["from"], data["to"]) == ("2026-11-23", "2026-11-24")
    # Monday from the summary (A, B, C active; C's cancelled prediction counts as activity,
    # not as participation; the admin and D signed up on Tuesday), Tuesday live (A and D
    # predicted, B was adjusted, the admin signed up).
    assert data["series"] == [MONDAY, TUESDAY]
    assert data["totals"] == {
        "dau": 3.5, "predictions": 8, "participants": 2.0, "win_rate": 0.5, "void_rate": 0.2,
        "points_issued": 5100, "points_spent": 30,
    }  # fmt: skip
    assert data["symbols"] == [
        {"symbol": "AAPL", "participants": 2.0, "predictions": 2, "win_rate": 0.5},
        {"symbol": "MSFT", "participants": 2.0, "predictions": 2, "win_rate": 0.5},
        {"symbol": "TSLA", "participants": 2.0, "predictions": 2, "win_rate": None},
        {"symbol": "META", "participants": 1.0, "predictions": 1, "win_rate": None},
        {"symbol": "NVDA", "participants": 1.0, "predictions": 1, "win_rate": None},
    ]
    # B's redemption is on hold (no ledger entry yet), changed on Tuesday.
    assert data["redemptions"] == {"REQUESTED": 1, "RESERVED": 0, "ISSUED": 0, "CANCELLED": 0, "FAILED": 0}

    pending, oldest = db.execute(
        text("SELECT count(*), min(created_at) FROM crypto.outbox WHERE published_at IS NULL")
    ).one()
    assert pending > 0
    assert data["outbox"] == {
        "pending": pending,
        "lag_seconds": round((AFTER_CLOSE - oldest).total_seconds(), 3),
    }

    assert [q["key"] for q in data["queues"]] == list(settings.queue_names)
    for queue in data["queues"]:
        name = settings.queue_names[queue["key"]]
        assert (queue["name"], queue["dlq"]["name"], queue["error"]) == (name, dlq_name_for(name), None)
        for value in (queue["visible"], queue["in_flight"], queue["delayed"], queue["dlq"]["visible"]):
            assert isinstance(value, int) and value >= 0

    jobs = {j["job"]: j for j in data["jobs"]}
    assert set(jobs) >= {str(j) for j in JobName}
    settle, follow_up = jobs[str(JobName.SETTLE)], jobs[str(JobName.SETTLEMENT_FOLLOW_UP)]
    assert (settle["status"], settle["trading_day"], settle["error"]) == ("SUCCEEDED", "2026-11-23", None)
    assert settle["started_at"] == settle["finished_at"] == "2026-11-24T06:30:00+09:00"
    assert follow_up["status"] == "SUCCEEDED"
    never = jobs[str(JobName.ANONYMISE_ACCOUNTS)]
    assert never == {
        "job": "users.anonymise", "status": None, "started_at": None, "finished_at": None,
        "error": None, "id": None, "trading_day": None,
    }  # fmt: skip


def test_the_last_run_of_a_job_shows_its_failure(
    client: TestClient, container: Container, seeded: Seeded
) -> None:
    with pytest.raises(SessionNotClosedError):
        container.jobs().settle(DAY2)  # Tuesday is still open
    settle = {j["job"]: j for j in _get(client, seeded.admin, **RANGE)["jobs"]}[str(JobName.SETTLE)]
    assert (settle["status"], settle["trading_day"]) == ("FAILED", "2026-11-24")
    assert settle["error"].startswith("SETTLE_001")


def test_the_summary_equals_a_live_count_and_follows_a_resettlement(
    client: TestClient, db: Session, container: Container, seeded: Seeded
) -> None:
    def summary_row() -> dict[str, Any]:
        row = db.execute(text("SELECT * FROM crypto.dashboard_days WHERE trading_day = :d"), {"d": DAY}).one()
        return {k: v for k, v in row._mapping.items() if k != "refreshed_at"}

    def live() -> tuple[Any, Any]:
        (day,) = game_days(container.calendar(), DAY, DAY)
        figures, symbols = DashboardRepository(db).count_days([day])
        return figures, symbols

    repo = DashboardRepository(db)
    assert repo.summarised([DAY])[:2] == live()
    before = summary_row()
    assert (before["window_start"], before["window_end"]) == (
        datetime(2026, 11, 20, 21, 0, tzinfo=UTC),  # Friday's close
        datetime(2026, 11, 23, 21, 0, tzinfo=UTC),  # Monday's close
    )

    # A revision: AAPL fell after all. A's win is reversed (-50), B's loss becomes a win (+50).
    add_close(db, "AAPL", DAY, "99.000000", vendor_rev=1)
    db.commit()
    jobs = container.jobs()
    assert jobs.settle(DAY).details["symbols_settled"] == 1
    jobs.follow_up_settlement(DAY)
    after = summary_row()
    assert after == {
        **before, "correct": 2, "incorrect": 2, "void": 1,
        "points_issued": 3000 + 2 * 50 + 50, "points_spent": 50,
    }  # fmt: skip
    assert repo.summarised([DAY])[:2] == live()

    # Idempotent: the follow-up again (a redelivery) writes the same figures.
    jobs.follow_up_settlement(DAY)
    assert summary_row() == after
    monday = _get(client, seeded.admin, **RANGE)["series"][0]
    assert monday == {**MONDAY, "points_issued": 3150, "points_spent": 50}
    aapl = next(s for s in _get(client, seeded.admin, **RANGE)["symbols"] if s["symbol"] == "AAPL")
    assert aapl["win_rate"] == 0.5  # B now right, A wrong


def test_a_day_is_summarised_only_once_its_game_day_is_over(
    db: Session, container: Container, seeded: Seeded
) -> None:
    result = container.dashboard_summary(db).refresh(DAY2)
    assert result == {"trading_day": "2026-11-24", "summarised": False, "reason": "its game day is not over"}
    assert db.execute(text("SELECT count(*) FROM crypto.dashboard_days")).scalar_one() == 1  # Monday


def test_the_default_range_is_the_last_7_days_and_future_days_are_not_shown(
    client: TestClient, seeded: Seeded
) -> None:
    data = _get(client, seeded.admin)
    assert (data["from"], data["to"]) == ("2026-11-18", "2026-11-24")
    assert [p["day"] for p in data["series"]] == [
        "2026-11-18",
        "2026-11-19",
        "2026-11-20",
        "2026-11-23",
        "2026-11-24",
    ]
    empty = {"dau": 0, "predictions": 0, "participants": 0, "win_rate": None, "void_rate": None,
             "points_issued": 0, "points_spent": 0, "live": True, "as_of": NOW_KST}  # fmt: skip
    assert data["series"][0] == {"day": "2026-11-18", **empty}
    assert data["totals"]["dau"] == (3 + 4) / 5
    # Thanksgiving (26th) and the weekend are not trading days; days after today are not shown.
    future = _get(client, seeded.admin, **{"from": "2026-11-24", "to": "2026-12-31"})
    assert [p["day"] for p in future["series"]] == ["2026-11-24"]
    weekend = _get(client, seeded.admin, **{"from": "2026-11-21", "to": "2026-11-22"})
    assert weekend["series"] == [] and weekend["symbols"] == []
    assert weekend["totals"] == {
        "dau": None, "predictions": 0, "participants": None, "win_rate": None, "void_rate": None,
        "points_issued": 0, "points_spent": 0,
    }  # fmt: skip
    assert set(weekend["redemptions"].values()) == {0}


def test_a_year_is_the_longest_range(client: TestClient, clock: FrozenClock) -> None:
    admin, _ = _login(client, "dash.range@example.com", role="ADMIN")
    year = {"from": "2025-11-24", "to": "2026-11-24"}  # 366 days
    assert len(_get(client, admin, **year)["series"]) > 240
    for params in (
        {"from": "2025-11-23", "to": "2026-11-24"},  # 367 days
        {"from": "2026-11-24", "to": "2026-11-23"},  # backwards
    ):
        r = client.get(URL, params=params, headers=admin)
        assert r.status_code == 422 and error_code(r) == "SYS_422", r.text
        assert r.json()["error"]["details"]["max_days"] == 366
    r = client.get(URL, params={"from": "2019-12-01", "to": "2020-01-31"}, headers=admin)
    assert r.status_code == 422 and error_code(r) == "CYCLE_005"  # before the calendar's first day
    r = client.get(URL, params={"from": "yesterday"}, headers=admin)
    assert r.status_code == 422 and error_code(r) == "SYS_422"
    assert r.json()["error"]["details"][0]["field"] == "from"


def test_a_player_gets_403_and_no_token_401(client: TestClient) -> None:
    player, _ = _login(client, "dash.player@example.com")
    r = client.get(URL, headers=player)
    assert r.status_code == 403 and error_code(r) == "AUTH_003"
    r = client.get(URL)
    assert r.status_code == 401 and error_code(r) == "AUTH_001"


def test_an_unreachable_sqs_is_reported_per_queue(
    client: TestClient, container: Container, settings: Settings, seeded: Seeded
) -> None:
    dead = settings.model_copy(
        update={"sqs_endpoint_url": "http://127.0.0.1:9", "sqs_connect_timeout_s": 0.2}
    )
    container.queue.override(providers.Object(SqsQueue(make_sqs_client(dead))))
    try:
        data = _get(client, seeded.admin, **RANGE)
    finally:
        container.queue.reset_override()
    assert [q["key"] for q in data["queues"]] == list(settings.queue_names)
    for queue in data["queues"]:
        assert queue["visible"] is None and queue["dlq"]["visible"] is None
        assert queue["name"] in queue["error"] and queue["dlq"]["name"] in queue["error"]
    assert data["series"] == [MONDAY, TUESDAY]  # the rest of the dashboard is there


def test_a_day_not_followed_up_yet_is_counted_live_with_the_same_figures(
    client: TestClient, db: Session, seeded: Seeded
) -> None:
    db.execute(text("DELETE FROM crypto.dashboard_symbol_days"))
    db.execute(text("DELETE FROM crypto.dashboard_days"))
    db.commit()
    data = _get(client, seeded.admin, **RANGE)
    assert data["series"] == [{**MONDAY, "live": True}, TUESDAY]
    assert data["totals"]["points_issued"] == 5100
    assert [s["symbol"] for s in data["symbols"]] == ["AAPL", "MSFT", "TSLA", "META", "NVDA"]


def test_game_days_run_from_close_to_close() -> None:
    from myapi.cycle.calendar import get_market_calendar

    days = game_days(get_market_calendar(), date(2026, 11, 25), date(2026, 11, 30))
    assert [d.trading_day for d in days] == [date(2026, 11, 25), date(2026, 11, 27), date(2026, 11, 30)]
    assert days[0].start == datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    assert days[1].start == days[0].end and days[2].start == days[1].end
    assert days[1].end == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # the early close after Thanksgiving
    assert days[2].end - days[2].start == timedelta(days=3, hours=3)


def test_a_live_day_is_counted_again_once_its_count_is_older_than_the_ttl(
    client: TestClient, clock: FrozenClock, settings: Settings, seeded: Seeded
) -> None:
    assert settings.dashboard_live_ttl_s == 30
    d, _ = _login(client, "dash.d@example.com")
    assert _get(client, seeded.admin, **RANGE)["series"][1] == TUESDAY
    assert client.delete("/v1/predictions/META", headers=d).status_code == 200
    # Within the TTL the kept count is shown, with when it was made.
    clock.advance(timedelta(seconds=29))
    assert _get(client, seeded.admin, **RANGE)["series"][1] == TUESDAY
    clock.advance(timedelta(seconds=1))
    again = _get(client, seeded.admin, **RANGE)["series"][1]
    assert again == {**TUESDAY, "predictions": 2, "as_of": "2026-11-24T06:30:30+09:00"}
    # The settled Monday is read from its summary row whatever the TTL.
    assert _get(client, seeded.admin, **RANGE)["series"][0] == MONDAY


def test_a_ttl_of_0_counts_on_every_request(
    client: TestClient, container: Container, settings: Settings, seeded: Seeded
) -> None:
    container.dashboard_live.override(providers.Object(LiveCounts(0)))
    try:
        assert _get(client, seeded.admin, **RANGE)["series"][1]["predictions"] == 3
        assert client.delete("/v1/predictions/TSLA", headers=seeded.a).status_code == 200
        assert _get(client, seeded.admin, **RANGE)["series"][1]["predictions"] == 2
    finally:
        container.dashboard_live.reset_override()
