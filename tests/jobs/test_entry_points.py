"""A job is defined once: whether it runs from its /internal route or from the queue
message that names it, it leaves the same effects (job runs with their trading day,
prices, predictions, ledger, session, events), on real PostgreSQL and the real SQS wire."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from myapi.events.catalogue import CATALOGUE, Topic
from myapi.main import create_app
from myapi.providers.queue import OutgoingMessage
from tests.support.days import AFTER_CLOSE, DAY, DEFAULT_NOW
from tests.support.db import truncate_all
from tests.support.factories import add_close, make_user, open_day, predict
from tests.support.http import internal
from tests.support.pipeline import Pipeline

SYMBOLS = ["AAPL", "MSFT", "NVDA"]


def _scenario(p: Pipeline, *, with_closes: bool) -> None:
    """A day with predictions, then the clock after its close (closes stored or not)."""
    p.clock.set(DEFAULT_NOW)
    with p.session() as s:
        open_day(s, p.clock, p.settings, SYMBOLS, trading_day=DAY)
        for i in range(4):
            user = make_user(s, f"entry{i}@example.com")
            for symbol in SYMBOLS:
                predict(s, p.clock, p.settings, user, symbol, "UP" if (i + len(symbol)) % 2 else "DOWN")
        if with_closes:
            for i, symbol in enumerate(SYMBOLS):
                add_close(s, symbol, DAY, f"{101 + i * 0.5:.6f}")
    p.clock.set(AFTER_CLOSE)


def _effects(p: Pipeline) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "job_runs": "SELECT job, trading_day, status FROM crypto.job_runs ORDER BY id",
        "sessions": "SELECT trading_day, phase, settled_at IS NOT NULL FROM crypto.session_control "
        "ORDER BY trading_day",
        "prices": "SELECT asof, symbol, close_price, provider FROM crypto.eod_prices ORDER BY 1, 2, 4",
        "predictions": "SELECT user_id, symbol, status, points_awarded, void_reason FROM crypto.predictions "
        "ORDER BY 1, 2",
        "ledger": "SELECT user_id, ref_type, ref_id, delta_points, balance_after FROM crypto.points_ledger "
        "ORDER BY 1, 2, 3",
        "balances": "SELECT user_id, balance FROM crypto.point_balances ORDER BY 1",
        "settlements": "SELECT symbol, outcome, close_price FROM crypto.settlements ORDER BY 1",
        "events": "SELECT topic, count(*) FROM crypto.outbox GROUP BY topic ORDER BY topic",
    }
    with p.engine.connect() as conn:
        return {name: [tuple(r) for r in conn.execute(text(sql))] for name, sql in queries.items()}


def _send(p: Pipeline, topic: Topic, payload: dict[str, Any]) -> None:
    queue = CATALOGUE[topic].queue
    assert queue is not None
    body = json.dumps({"type": topic, "version": 1, "id": "t", "attempt": 1, "payload": payload})
    p.container.queue().send_batch(p.settings.queue_names[queue], [OutgoingMessage(body)])


CASES: dict[str, tuple[bool, str, Topic]] = {
    # job: (closes stored beforehand, its /internal route, the topic that runs it)
    "fetch_eod": (False, "/internal/eod/fetch", Topic.EOD_FETCH_REQUESTED),
    "settle": (True, "/internal/settlement/run", Topic.SETTLEMENT_REQUESTED),
    "tick": (False, "/internal/cycle/tick", Topic.CYCLE_TICK),
}


@pytest.mark.slow
@pytest.mark.parametrize("job", sorted(CASES))
def test_a_job_has_the_same_effects_from_http_and_from_its_queue(pipeline: Pipeline, job: str) -> None:
    p = pipeline
    with_closes, route, topic = CASES[job]
    body = {} if topic == Topic.CYCLE_TICK else {"trading_day": DAY.isoformat()}

    def through_http() -> None:
        with TestClient(create_app(container=p.container), raise_server_exceptions=False) as client:
            r = client.post(route, json=body or None, headers=internal(p.settings))
            assert r.status_code == 200, r.text
            assert r.json()["data"]["status"] == "SUCCEEDED"

    def through_queue() -> None:
        _send(p, topic, body)

    runs: list[dict[str, list[tuple[Any, ...]]]] = []
    for entry_point in (through_http, through_queue):
        truncate_all(p.engine)
        _scenario(p, with_closes=with_closes)
        run: Callable[[], None] = entry_point
        run()
        p.pump()  # whatever the job asked for next goes through the queues either way
        runs.append(_effects(p))

    http, queued = runs
    assert http == queued
    # And the job did its work: the day is settled, its job runs carry the day.
    assert http["sessions"] == [(DAY, "SETTLE", True)]
    assert all(row[1] == DAY for row in http["job_runs"] if row[0] != "cycle.tick")
    assert any(row[2] == "CORRECT" for row in http["predictions"])
    assert {r[0] for r in http["job_runs"]} >= {"settlement.run"}
