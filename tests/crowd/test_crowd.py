"""Crowd sentiment: per symbol and day the UP / DOWN split (cancelled predictions aside)
and, once settled, the share who were right. Hidden while the day accepts predictions,
shown from the cutoff (scheduled or an operator's early one), carried by
/v1/settlements/{day} and /v1/results, and recounted idempotently by every settlement
follow-up (a revision that flips outcomes changes who was right)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from myapi.crowd.service import CrowdService
from myapi.cycle.calendar import get_market_calendar
from myapi.events.catalogue import request_settlement
from myapi.events.relay import envelope
from myapi.main import create_app
from myapi.outbox.models import OutboxEvent
from myapi.predictions.service import PredictionService
from myapi.providers.queue import OutgoingMessage
from tests.support.days import AFTER_CLOSE, DAY, DEFAULT_NOW
from tests.support.factories import add_close, make_user, open_day, predict
from tests.support.http import bearer, dev_login, error_code
from tests.support.pipeline import Pipeline

# Baselines from open_day: AAPL 100.125, MSFT 101.125, NVDA 102.125, AMZN 103.125, META 104.125
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "META")
CLOSES = {"AAPL": "101.000000", "MSFT": "100.000000", "NVDA": "102.125000", "AMZN": "104.000000",
          "META": "105.000000"}  # fmt: skip
# AAPL UP, MSFT DOWN, NVDA flat (VOID), AMZN UP, META UP (nobody left on META).
PAST_CUTOFF = datetime(2026, 11, 23, 20, 56, tzinfo=UTC)  # cutoff 20:55 UTC (close - 5 min)
DAY2, DAY3 = date(2026, 11, 24), date(2026, 11, 25)


@pytest.fixture
def api(pipeline: Pipeline) -> Iterator[TestClient]:
    """The app over the pipeline's container (own queues, real commits)."""
    with TestClient(create_app(container=pipeline.container), raise_server_exceptions=False) as client:
        yield client


# --- helpers ---------------------------------------------------------------------------
def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _users(p: Pipeline, *names: str) -> dict[str, int]:
    with p.session() as s:
        return {n: make_user(s, f"{n}@example.com") for n in names}


def _predict(p: Pipeline, picks: list[tuple[int, str, str]]) -> None:
    with p.session() as s:
        for user_id, symbol, choice in picks:
            predict(s, p.clock, p.settings, user_id, symbol, choice)


def _cancel(p: Pipeline, user_id: int, symbol: str) -> None:
    with p.session() as s:
        PredictionService(s, p.clock, p.settings, get_market_calendar()).cancel(user_id, symbol)


def _brute_force(p: Pipeline, day: date) -> dict[str, dict[str, Any]]:
    """Each symbol's crowd on `day`, counted row by row in Python from the predictions."""
    with p.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT symbol, choice, status FROM crypto.predictions WHERE trading_day = :d"), {"d": day}
        ).all()
    n: dict[str, dict[str, int]] = defaultdict(lambda: {"up": 0, "down": 0, "correct": 0, "decided": 0})
    for r in rows:
        if r.status == "CANCELLED":
            continue
        c = n[r.symbol]
        c["up"] += r.choice == "UP"
        c["down"] += r.choice == "DOWN"
        c["correct"] += r.status == "CORRECT"
        c["decided"] += r.status in ("CORRECT", "INCORRECT")
    out = {}
    for symbol, c in n.items():
        total = c["up"] + c["down"]
        out[symbol] = {
            "up": c["up"],
            "down": c["down"],
            "participants": total,
            "up_share": round(c["up"] / total, 4) if total else None,
            "right_share": round(c["correct"] / c["decided"], 4) if c["decided"] else None,
        }
    return out


def _crowd(api: TestClient, day: date) -> dict[str, Any]:
    r = api.get(f"/v1/crowd/{day.isoformat()}")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    assert data["trading_day"] == day.isoformat()
    return data


def _by_symbol(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    symbols = [s["symbol"] for s in data["symbols"]]
    assert symbols == sorted(symbols)
    return {s["symbol"]: {k: v for k, v in s.items() if k != "symbol"} for s in data["symbols"]}


def _settlement_crowds(api: TestClient, day: date) -> dict[str, Any]:
    r = api.get(f"/v1/settlements/{day.isoformat()}")
    assert r.status_code == 200, r.text
    return {row["symbol"]: row["crowd"] for row in r.json()["data"]["symbols"]}


def _table(p: Pipeline) -> list[dict[str, Any]]:
    with p.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM crypto.symbol_crowd ORDER BY trading_day, symbol")).all()
    return [dict(r._mapping) for r in rows]


def _settle_through_the_queue(p: Pipeline, day: date = DAY) -> None:
    with p.session() as s:
        request_settlement(s, p.clock.now(), day)
    p.pump()
    assert p.scalar("SELECT settled_at IS NOT NULL FROM crypto.session_control WHERE trading_day = :d", d=day)
    assert (
        p.scalar(
            "SELECT count(*) FROM crypto.predictions WHERE status = 'PENDING' AND trading_day = :d", d=day
        )
        == 0
    )


def _a_day_with_predictions(p: Pipeline) -> dict[str, int]:
    """DAY open on SYMBOLS; five players predict, some cancel (META ends with only
    cancelled predictions, Dan's AMZN too)."""
    u = _users(p, "ann", "bob", "cid", "dan", "eve")
    with p.session() as s:
        open_day(s, p.clock, p.settings, SYMBOLS)
    _predict(p, [
        (u["ann"], "AAPL", "UP"), (u["ann"], "MSFT", "UP"), (u["ann"], "NVDA", "DOWN"),
        (u["bob"], "AAPL", "DOWN"), (u["bob"], "MSFT", "DOWN"), (u["bob"], "AMZN", "DOWN"),
        (u["cid"], "AAPL", "UP"), (u["cid"], "NVDA", "UP"), (u["cid"], "META", "UP"),
        (u["dan"], "MSFT", "DOWN"), (u["dan"], "AMZN", "UP"), (u["eve"], "META", "DOWN"),
    ])  # fmt: skip
    _cancel(p, u["cid"], "META")
    _cancel(p, u["eve"], "META")
    _cancel(p, u["dan"], "AMZN")
    return u


def _cut_off(p: Pipeline, day: date = DAY) -> dict[str, Any]:
    result = p.container.jobs().cutoff(day)
    assert result.status == "SUCCEEDED", result
    return result.details


def _close_and_settle(p: Pipeline) -> None:
    with p.session() as s:
        for symbol, close in CLOSES.items():
            add_close(s, symbol, DAY, close)
    p.clock.set(AFTER_CLOSE)
    _settle_through_the_queue(p)


def _completed_events(p: Pipeline) -> list[OutboxEvent]:
    with p.session() as s:
        events = list(
            s.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.topic == "settlement.completed")
                .order_by(OutboxEvent.id)
            )
        )
        s.expunge_all()
    return events


def _redeliver(p: Pipeline, event: OutboxEvent, times: int = 3) -> int:
    name = p.settings.queue_names["settlement_compute"]
    p.container.queue().send_batch(name, [OutgoingMessage(envelope(event)) for _ in range(times)])
    return p.worker("settlement_compute").drain()


# --- 1. hidden, then counted at the cutoff, then who was right --------------------------
def test_the_crowd_is_hidden_while_open_counted_at_the_cutoff_and_right_share_after_settlement(
    pipeline: Pipeline, api: TestClient
) -> None:
    p = pipeline
    u = _a_day_with_predictions(p)

    # Open: hidden, even with counters in the table (a recount while open changes nothing).
    assert _crowd(api, DAY) == {"trading_day": "2026-11-23", "visible": False, "symbols": []}
    with p.session() as s:
        CrowdService(s, p.clock).refresh(DAY)
    assert len(_table(p)) == 4
    assert _crowd(api, DAY) == {"trading_day": "2026-11-23", "visible": False, "symbols": []}
    r = api.get(f"/v1/settlements/{DAY.isoformat()}")
    assert r.status_code == 200, r.text
    assert all(row["crowd"] is None for row in r.json()["data"]["symbols"])
    _predict(p, [(u["eve"], "MSFT", "DOWN")])  # after that recount: the cutoff must see it

    # The cutoff job counts and shows the split (pending: nobody right yet).
    p.clock.set(PAST_CUTOFF)
    details = _cut_off(p)
    assert details["crowd"] == {"trading_day": "2026-11-23", "symbols": 1}  # MSFT changed
    expected = _brute_force(p, DAY)
    assert set(expected) == {"AAPL", "MSFT", "NVDA", "AMZN"}  # META: only cancelled ones
    # ...and by hand.
    assert expected["AAPL"] == {
        "up": 2,
        "down": 1,
        "participants": 3,
        "up_share": 0.6667,
        "right_share": None,
    }
    assert expected["MSFT"] == {"up": 1, "down": 3, "participants": 4, "up_share": 0.25, "right_share": None}
    assert expected["AMZN"] == {"up": 0, "down": 1, "participants": 1, "up_share": 0.0, "right_share": None}
    crowd = _crowd(api, DAY)
    assert crowd["visible"] is True
    assert _by_symbol(crowd) == expected

    # Settled through the queue: right_share = CORRECT / (CORRECT + INCORRECT).
    _close_and_settle(p)
    expected = _brute_force(p, DAY)
    assert {s: e["right_share"] for s, e in expected.items()} == {
        "AAPL": 0.6667,  # UP: Ann, Cid right; Bob wrong
        "MSFT": 0.75,  # DOWN: Bob, Dan, Eve right; Ann wrong
        "NVDA": None,  # flat: VOID only
        "AMZN": 0.0,  # UP: Bob's DOWN wrong
    }
    crowd = _crowd(api, DAY)
    assert crowd["visible"] is True
    assert _by_symbol(crowd) == expected
    # /v1/settlements/{day} carries the same crowd on each symbol's row.
    rows = _settlement_crowds(api, DAY)
    assert set(rows) == set(SYMBOLS)
    assert {s: c for s, c in rows.items() if c is not None} == expected
    assert rows["META"] is None
    assert [r["correct"] for r in _table(p)] == [2, 0, 3, 0]  # AAPL, AMZN, MSFT, NVDA
    assert [r["decided"] for r in _table(p)] == [3, 1, 4, 0]


# --- 2. an operator's early cutoff --------------------------------------------------------
def test_an_early_cutoff_shows_the_crowd_at_once(pipeline: Pipeline, api: TestClient) -> None:
    p = pipeline
    _a_day_with_predictions(p)
    assert p.clock.now() == DEFAULT_NOW  # hours before the scheduled cutoff
    assert _crowd(api, DAY)["visible"] is False
    admin = bearer(dev_login(api, "ops@example.com", role="ADMIN")["access_token"])
    r = api.post(f"/admin/sessions/{DAY.isoformat()}/early-cutoff", json={"reason": "halt"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["details"]["early"] is True

    crowd = _crowd(api, DAY)
    assert crowd["visible"] is True
    assert _by_symbol(crowd) == _brute_force(p, DAY)
    assert len(crowd["symbols"]) == 4
    assert all(s["right_share"] is None for s in crowd["symbols"])


# --- 3. /v1/results ----------------------------------------------------------------------
def _play(p: Pipeline, day: date, picks: list[tuple[int, str, str]], closes: dict[str, str] | None) -> None:
    """Open `day` (baselines: the previous day's closes), predict, cut off; with
    `closes`, store them and settle through the queue."""
    p.clock.set(_at(day, 1))
    with p.session() as s:
        open_day(s, p.clock, p.settings, SYMBOLS[:3], trading_day=day, with_baselines=False)
    _predict(p, picks)
    p.clock.set(_at(day, 20, 56))
    _cut_off(p, day)
    if closes is not None:
        with p.session() as s:
            for symbol, close in closes.items():
                add_close(s, symbol, day, close)
        p.clock.set(_at(day, 21, 30))
        _settle_through_the_queue(p, day)


def test_results_list_settled_days_newest_first_with_their_crowd(pipeline: Pipeline, api: TestClient) -> None:
    p = pipeline
    u = _users(p, "ann", "bob")
    with p.session() as s:  # the baselines of the first day
        for i, symbol in enumerate(SYMBOLS[:3]):
            add_close(s, symbol, date(2026, 11, 20), f"{100 + i}.125000")
    # Baselines: AAPL 100.125, MSFT 101.125, NVDA 102.125 -> DAY: AAPL UP, MSFT DOWN, NVDA VOID
    _play(p, DAY, [(u["ann"], "AAPL", "UP"), (u["bob"], "AAPL", "UP"), (u["bob"], "MSFT", "UP")],
          {s: CLOSES[s] for s in SYMBOLS[:3]})  # fmt: skip
    # DAY2 from 101 / 100 / 102.125: AAPL DOWN, MSFT UP, NVDA UP
    _play(p, DAY2, [(u["ann"], "NVDA", "DOWN"), (u["bob"], "NVDA", "UP"), (u["ann"], "MSFT", "UP")],
          {"AAPL": "100.500000", "MSFT": "100.250000", "NVDA": "103.000000"})  # fmt: skip
    _play(p, DAY3, [(u["ann"], "AAPL", "DOWN")], None)  # cut off, not settled

    r = api.get("/v1/results", params={"from": "2026-11-20", "to": "2026-11-30"})
    assert r.status_code == 200, r.text
    days = r.json()["data"]
    assert [d["trading_day"] for d in days] == ["2026-11-24", "2026-11-23"]
    assert r.json()["meta"]["total"] == 2
    for listed in days:
        day = date.fromisoformat(listed["trading_day"])
        assert listed["settled_at"] is not None
        expected = _brute_force(p, day)
        crowds = {row["symbol"]: row["crowd"] for row in listed["symbols"]}
        assert set(crowds) == set(SYMBOLS[:3])
        assert {s: c for s, c in crowds.items() if c is not None} == expected
        assert crowds == _settlement_crowds(api, day)
    assert _brute_force(p, DAY)["AAPL"]["right_share"] == 1.0
    assert _brute_force(p, DAY2)["NVDA"] == {
        "up": 1, "down": 1, "participants": 2, "up_share": 0.5, "right_share": 0.5,
    }  # fmt: skip
    assert _crowd(api, DAY3)["visible"] is True  # cut off: shown, but not a result yet

    # from == to: that day alone (or nothing for an unsettled one).
    one = api.get("/v1/results", params={"from": "2026-11-23", "to": "2026-11-23"})
    assert one.status_code == 200 and [d["trading_day"] for d in one.json()["data"]] == ["2026-11-23"]
    none = api.get("/v1/results", params={"from": "2026-11-25", "to": "2026-11-25"})
    assert none.status_code == 200 and none.json()["data"] == []
    # 31 days is the most.
    month = api.get("/v1/results", params={"from": "2026-11-01", "to": "2026-12-01"})
    assert month.status_code == 200 and len(month.json()["data"]) == 2
    for params in ({"from": "2026-11-24", "to": "2026-11-23"}, {"from": "2026-11-01", "to": "2026-12-02"}):
        bad = api.get("/v1/results", params=params)
        assert bad.status_code == 422 and error_code(bad) == "SYS_422", (params, bad.text)


# --- 4. idempotent recounts; a revision --------------------------------------------------
def test_redelivered_settlement_changes_nothing_and_a_revision_updates_right_share(
    pipeline: Pipeline, api: TestClient
) -> None:
    p = pipeline
    _a_day_with_predictions(p)
    p.clock.set(PAST_CUTOFF)
    _cut_off(p)
    _close_and_settle(p)
    before = _table(p)
    assert len(before) == 4

    [completed] = _completed_events(p)
    p.clock.advance(timedelta(minutes=5))
    assert _redeliver(p, completed) == 3
    assert _table(p) == before  # same counts, same updated_at
    runs = "SELECT count(*) FROM crypto.job_runs WHERE job = 'settlement.follow_up' AND status = 'SUCCEEDED'"
    assert p.scalar(runs) == 4

    # AAPL actually fell: Bob's DOWN is right now, Ann's and Cid's UP wrong.
    assert _by_symbol(_crowd(api, DAY))["AAPL"]["right_share"] == 0.6667
    with p.session() as s:
        add_close(s, "AAPL", DAY, "99.000000", vendor_rev=1)
    p.clock.advance(timedelta(minutes=30))
    _settle_through_the_queue(p)
    assert len(_completed_events(p)) == 2
    after = _table(p)
    revised = {r["symbol"]: r for r in after}
    assert (revised["AAPL"]["correct"], revised["AAPL"]["decided"]) == (1, 3)
    assert revised["AAPL"]["updated_at"] == p.clock.now()
    assert [r for r in after if r["symbol"] != "AAPL"] == [r for r in before if r["symbol"] != "AAPL"]
    expected = _brute_force(p, DAY)
    assert expected["AAPL"]["right_share"] == 0.3333
    assert _by_symbol(_crowd(api, DAY)) == expected
    assert {s: c for s, c in _settlement_crowds(api, DAY).items() if c is not None} == expected

    # The revision's event delivered 3 more times: still nothing changes.
    p.clock.advance(timedelta(minutes=5))
    assert _redeliver(p, _completed_events(p)[-1]) == 3
    assert _table(p) == after
