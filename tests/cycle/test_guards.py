"""The cycle's guards hold on every path: a step at the wrong time is refused with its
code (and recorded as a failed job run with its trading day), through /internal, through
a queue message and next to a running schedule, and the schedule is not disturbed.

Monday 2026-11-23 (EST): cutoff 14:25 UTC (23:25 KST), NYSE open 14:30, close 21:00,
EOD fetch and settlement possible from 21:15 UTC (06:15 KST Tuesday)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from myapi.core.enums import Choice
from myapi.events.catalogue import Topic
from myapi.main import create_app
from myapi.providers.queue import OutgoingMessage
from myapi.providers.queue.setup import dlq_name_for
from tests.support.days import DAY, DEFAULT_NOW
from tests.support.db import cycle_steps
from tests.support.factories import make_user, open_day, predict
from tests.support.http import bearer, dev_login, internal
from tests.support.pipeline import Pipeline

AFTER_CUTOFF = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
AFTER_CLOSE_BEFORE_DELAY = datetime(2026, 11, 23, 21, 5, tzinfo=UTC)
EOD_DUE = datetime(2026, 11, 23, 21, 20, tzinfo=UTC)
POSSIBLE_FROM = "2026-11-24T06:15:00+09:00"


@pytest.fixture
def api(pipeline: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(container=pipeline.container), raise_server_exceptions=False) as c:
        yield c


def _post(api: TestClient, p: Pipeline, path: str, day: date | str | None = None) -> Any:
    body = None if day is None else {"trading_day": str(day)}
    return api.post(path, json=body, headers=internal(p.settings))


def _refused(response: Any, code: str) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


def _last_run(p: Pipeline) -> tuple[str, date | None, str, str | None]:
    with p.engine.connect() as conn:
        row = conn.execute(
            text("SELECT job, trading_day, status, error FROM crypto.job_runs ORDER BY id DESC LIMIT 1")
        ).one()
    return row.job, row.trading_day, row.status, row.error


def _day_with_predictions(p: Pipeline) -> None:
    p.clock.set(DEFAULT_NOW)
    with p.session() as s:
        open_day(s, p.clock, p.settings, ["AAPL", "MSFT"], trading_day=DAY)
        for i in range(3):
            user = make_user(s, f"guard{i}@example.com")
            predict(s, p.clock, p.settings, user, "AAPL", "UP" if i % 2 else "DOWN")


def test_every_internal_step_at_a_wrong_time_is_refused_with_its_code(
    pipeline: Pipeline, api: TestClient
) -> None:
    p = pipeline
    _day_with_predictions(p)

    # While the day is open for predictions.
    error = _refused(_post(api, p, "/internal/eod/fetch", DAY), "CYCLE_002")
    assert error["details"] == {"trading_day": "2026-11-23", "possible_from": POSSIBLE_FROM}
    assert _last_run(p) == ("eod.fetch", DAY, "FAILED", _last_run(p)[3])
    assert str(_last_run(p)[3]).startswith("CYCLE_002")
    _refused(_post(api, p, "/internal/settlement/run", DAY), "SETTLE_001")
    _refused(_post(api, p, "/internal/eod/fetch", "2026-11-24"), "CYCLE_002")  # a future day
    _refused(_post(api, p, "/internal/eod/fetch", "2026-11-21"), "CYCLE_001")  # a Saturday
    assert _last_run(p)[1] == date(2026, 11, 21)  # the day is recorded even when refused
    ahead = _refused(_post(api, p, "/internal/session/flip-to-predict", "2026-11-24"), "CYCLE_004")
    assert ahead["details"] == {"trading_day": "2026-11-24", "reason": "NOT_YET_DUE", "due": "2026-11-23"}
    past = _refused(_post(api, p, "/internal/session/flip-to-predict", "2026-11-20"), "CYCLE_004")
    assert past["details"]["reason"] == "PAST_DAY"
    cut = _refused(_post(api, p, "/internal/session/cutoff", DAY), "CYCLE_003")
    assert cut["details"]["predict_cutoff_at"] == "2026-11-23T23:25:00+09:00"

    # After the cutoff, while the market trades: nothing may be priced or settled.
    p.clock.set(AFTER_CUTOFF)
    assert _post(api, p, "/internal/session/cutoff", DAY).json()["data"]["details"]["flipped"] is True
    _refused(_post(api, p, "/internal/settlement/run", DAY), "CYCLE_002")
    _refused(_post(api, p, "/internal/eod/fetch", DAY), "CYCLE_002")

    # After the close but before the EOD delay; and the next day cannot open yet.
    p.clock.set(AFTER_CLOSE_BEFORE_DELAY)
    _refused(_post(api, p, "/internal/eod/fetch"), "CYCLE_002")  # default: the last closed day
    _refused(_post(api, p, "/internal/settlement/run"), "CYCLE_002")
    p.clock.set(EOD_DUE)
    nxt = _refused(_post(api, p, "/internal/session/flip-to-predict"), "CYCLE_004")
    assert nxt["details"] == {
        "trading_day": "2026-11-24",
        "reason": "PREVIOUS_DAY_UNSETTLED",
        "due": "2026-11-24",
    }

    assert p.scalar("SELECT count(*) FROM crypto.eod_prices WHERE asof = :d", d=DAY) == 0
    assert p.scalar("SELECT count(*) FROM crypto.settlements") == 0
    assert p.scalar("SELECT count(*) FROM crypto.predictions WHERE status = 'PENDING'") == 3
    assert p.scalar("SELECT count(*) FROM crypto.session_control") == 1
    # Every refusal is a failed job run that names its day.
    assert (
        p.scalar("SELECT count(*) FROM crypto.job_runs WHERE status = 'FAILED' AND trading_day IS NULL") == 0
    )

    # At the right time the same calls work: fetch (which asks for settlement), settle.
    fetched = _post(api, p, "/internal/eod/fetch", DAY).json()["data"]
    assert fetched["status"] == "SUCCEEDED" and fetched["details"]["stored"] == 2
    settled = _post(api, p, "/internal/settlement/run", DAY).json()["data"]
    assert settled["details"]["symbols_settled"] == 2
    assert _post(api, p, "/internal/session/flip-to-predict").json()["data"]["details"]["opened"] is True


def _send(p: Pipeline, topic: Topic, day: date) -> None:
    queue = "eod_fetch" if topic == Topic.EOD_FETCH_REQUESTED else "settlement_compute"
    body = json.dumps({"type": topic, "payload": {"trading_day": day.isoformat()}})
    p.container.queue().send_batch(p.settings.queue_names[queue], [OutgoingMessage(body)])


def test_a_queued_step_at_a_wrong_time_is_refused_once_and_the_schedule_still_settles(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    _day_with_predictions(p)
    p.clock.set(AFTER_CUTOFF)
    _send(p, Topic.SETTLEMENT_REQUESTED, DAY)
    _send(p, Topic.EOD_FETCH_REQUESTED, DAY)
    p.pump()
    with p.engine.connect() as conn:
        runs = conn.execute(
            text("SELECT job, trading_day, status, error FROM crypto.job_runs WHERE job IN "
                 "('settlement.run', 'eod.fetch') ORDER BY id")
        ).all()  # fmt: skip
    assert sorted((r.job, r.trading_day, r.status) for r in runs) == [
        ("eod.fetch", DAY, "FAILED"),
        ("settlement.run", DAY, "FAILED"),
    ]
    assert all(str(r.error).startswith("CYCLE_002") for r in runs)
    # Refused messages are consumed, not retried and not dead-lettered.
    queue = p.container.queue()
    for key in ("eod_fetch", "settlement_compute"):
        name = p.settings.queue_names[key]
        assert queue.receive(name, 10, 0) == [] and queue.receive(dlq_name_for(name), 10, 0) == []
    assert p.scalar("SELECT settled_at FROM crypto.session_control") is None

    # The schedule goes on: after the close + delay, ticks fetch and settle the day once.
    p.clock.set(EOD_DUE)
    p.container.jobs().tick()
    p.pump()
    assert p.scalar("SELECT settled_at IS NOT NULL FROM crypto.session_control WHERE trading_day = :d", d=DAY)
    assert p.scalar("SELECT count(*) FROM crypto.predictions WHERE status = 'PENDING'") == 0


def test_an_early_cutoff_is_an_operators_audited_act(pipeline: Pipeline, api: TestClient) -> None:
    p = pipeline
    _day_with_predictions(p)
    admin = bearer(dev_login(api, "ops@example.com", role="ADMIN")["access_token"])
    player = dev_login(api, "late@example.com")
    path = f"/admin/sessions/{DAY.isoformat()}/early-cutoff"
    assert api.post(path, json={"reason": "halt"}, headers=bearer(player["access_token"])).status_code == 403
    assert api.post(path, json={}, headers=admin).status_code == 422  # a reason is required
    r = api.post(path, json={"reason": "exchange-wide halt"}, headers=admin)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["job"], data["trading_day"], data["details"]["early"]) == (
        "session.early_cutoff",
        "2026-11-23",
        True,
    )
    audit = p.scalar(
        "SELECT payload->>'reason' FROM crypto.audit_log WHERE action = 'session.early_cutoff' "
        "AND target = 'session:2026-11-23'"
    )
    assert audit == "exchange-wide halt"
    late = api.post("/v1/predictions/MSFT", json={"choice": "UP"}, headers=bearer(player["access_token"]))
    assert late.status_code == 409 and late.json()["error"]["code"] == "PRED_001"
    today = api.get("/v1/session/today").json()["data"]
    assert today["phase"] == "SETTLE" and today["can_predict"] is False


WRONG_CALLS: list[tuple[str, str]] = [
    ("/internal/eod/fetch", "today"),
    ("/internal/settlement/run", "today"),
    ("/internal/session/flip-to-predict", "tomorrow"),
    ("/internal/session/flip-to-predict", "yesterday"),
    ("/internal/session/cutoff", "today"),
    ("/internal/eod/fetch", "tomorrow"),
]


@pytest.mark.slow
def test_a_stretch_of_ticks_with_manual_calls_at_wrong_times(pipeline: Pipeline, api: TestClient) -> None:
    """Three trading days of ticks every 15 minutes; every hour an /internal call for a
    day it is not yet (or no longer) time for. Each wrong call is refused with a cycle or
    settlement code, or is a no-op; every day is still opened, cut off, fetched and
    settled exactly once."""
    p = pipeline
    calendar = p.container.calendar()
    start = datetime(2026, 11, 22, 21, 30, tzinfo=UTC)  # Mon 06:30 KST: before Monday opens
    end = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # Thanksgiving morning KST
    rng = random.Random(20261123)
    with p.session() as s:
        players = [make_user(s, f"stretch{i}@example.com") for i in range(2)]
    refused: dict[str, int] = {}
    now = start
    while now < end:
        p.clock.set(now)
        p.container.jobs().tick()
        p.pump()
        if now.minute == 0:
            path, which = rng.choice(WRONG_CALLS)
            today = calendar.trading_day_for(now)
            day = {
                "today": today,
                "tomorrow": calendar.next_trading_day(today),
                "yesterday": calendar.previous_trading_day(today),
            }[which]
            r = _post(api, p, path, day)
            if r.status_code == 409:
                code = r.json()["error"]["code"]
                assert code in {"CYCLE_002", "CYCLE_003", "CYCLE_004", "SETTLE_001"}, (now, path, day, code)
                refused[code] = refused.get(code, 0) + 1
            else:
                # Allowed only as a no-op: nothing new opened, settled or fetched by hand.
                assert r.status_code == 200, r.text
                details = r.json()["data"]["details"]
                assert not details.get("opened") and not details.get("stored"), (now, path, day, details)
                assert not details.get("symbols_settled"), (now, path, day, details)
        with p.session() as s:
            from myapi.cycle.repository import SessionsRepository

            row = SessionsRepository(s).get(calendar.trading_day_for(now))
            if row is not None and row.phase == "PREDICT" and now < row.predict_cutoff_at:
                service = p.container.prediction_service(s)
                for i, user in enumerate(players):
                    existing = s.execute(
                        text(
                            "SELECT count(*) FROM crypto.predictions WHERE user_id = :u AND trading_day = :d"
                        ),
                        {"u": user, "d": row.trading_day},
                    ).scalar_one()
                    if not existing:
                        service.submit(user, "AAPL", Choice.UP if i else Choice.DOWN)
        now += timedelta(minutes=15)

    assert sum(refused.values()) >= 40 and len(refused) >= 3, refused
    days = [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)]
    with p.engine.connect() as conn:
        steps = cycle_steps(conn)
        sessions = conn.execute(
            text("SELECT trading_day, settled_at, predict_open_at FROM crypto.session_control ORDER BY 1")
        ).all()
    for day in days:
        assert [steps[k].get(day) for k in ("opened", "cut", "fetched", "settled")] == [1, 1, 1, 1], day
    assert [r.trading_day for r in sessions][:3] == days
    for prev, cur in zip(sessions, sessions[1:], strict=False):
        assert prev.settled_at is not None and cur.predict_open_at >= prev.settled_at
    assert p.scalar("SELECT count(*) FROM crypto.predictions WHERE status = 'PENDING' AND trading_day <= :d",
                    d=days[-1]) == 0  # fmt: skip
