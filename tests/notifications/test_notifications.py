"""The player's in-app inbox: notifications produced by the consumers of the game's
events (a settled day, a redemption's outcome), each event delivered any number of
times making one notification, and the inbox API (paging, unread, marking read, only
the caller's own)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from myapi.cycle.calendar import get_market_calendar
from myapi.events.catalogue import RewardOutcome, request_settlement
from myapi.events.relay import envelope
from myapi.main import create_app
from myapi.outbox.models import OutboxEvent
from myapi.predictions.service import PredictionService
from myapi.providers.queue import OutgoingMessage
from tests.support.days import AFTER_CLOSE, DAY
from tests.support.factories import add_close, open_day, predict
from tests.support.http import bearer, dev_login, error_code
from tests.support.pipeline import Pipeline
from tests.support.rewards import add_reward, redemption, run_sagas

# Baselines from open_day: AAPL 100.125, MSFT 101.125, NVDA 102.125, AMZN 103.125
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN")
CLOSES = {"AAPL": "101.000000", "MSFT": "100.000000", "NVDA": "102.125000", "AMZN": "104.000000"}
# AAPL UP, MSFT DOWN, NVDA flat (VOID), AMZN UP.


@pytest.fixture
def api(pipeline: Pipeline) -> Iterator[TestClient]:
    """The app over the pipeline's container (own queues, real commits)."""
    with TestClient(create_app(container=pipeline.container), raise_server_exceptions=False) as client:
        yield client


# --- helpers ---------------------------------------------------------------------------
def _player(api: TestClient, email: str) -> tuple[dict[str, str], int]:
    login = dev_login(api, email)
    return bearer(login["access_token"]), int(login["user"]["id"])


def _notifications(p: Pipeline, user_id: int | None = None) -> list[dict[str, Any]]:
    """Every notification row (of one player), oldest id first."""
    sql = "SELECT * FROM crypto.notifications"
    if user_id is not None:
        sql += " WHERE user_id = :u"
    with p.engine.connect() as conn:
        rows = conn.execute(text(sql + " ORDER BY id"), {"u": user_id}).all()
    return [dict(r._mapping) for r in rows]


def _figures_from_predictions(p: Pipeline) -> dict[int, dict[str, Any]]:
    """Brute force: each player's figures for DAY, counted row by row in Python."""
    with p.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT user_id, status, points_awarded FROM crypto.predictions WHERE trading_day = :d"),
            {"d": DAY},
        ).all()
    figures: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"trading_day": DAY.isoformat(), "predictions": 0, "wins": 0, "voids": 0, "points": 0}
    )
    for r in rows:
        if r.status == "CANCELLED":
            continue
        f = figures[int(r.user_id)]
        f["predictions"] += 1
        f["wins"] += r.status == "CORRECT"
        f["voids"] += r.status == "VOID"
        f["points"] += int(r.points_awarded or 0)
    return dict(figures)


def _outbox(p: Pipeline, topic: str) -> list[OutboxEvent]:
    with p.session() as s:
        events = list(
            s.scalars(select(OutboxEvent).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id))
        )
        s.expunge_all()
    return events


def _redeliver(p: Pipeline, event: OutboxEvent, queue_key: str, times: int = 3) -> int:
    """Send the relay's exact envelope of `event` `times` more times; drain the queue."""
    name = p.settings.queue_names[queue_key]
    body = envelope(event)
    p.container.queue().send_batch(name, [OutgoingMessage(body) for _ in range(times)])
    return p.worker(queue_key).drain()


def _settle_through_the_queue(p: Pipeline) -> None:
    with p.session() as s:
        request_settlement(s, p.clock.now(), DAY)
    p.pump()


def _cancel(p: Pipeline, user_id: int, symbol: str) -> None:
    with p.session() as s:
        PredictionService(s, p.clock, p.settings, get_market_calendar()).cancel(user_id, symbol)


def _a_settled_day(p: Pipeline, api: TestClient) -> dict[str, tuple[dict[str, str], int]]:
    """Three players predict DAY (one of them ends with only a cancelled prediction),
    the closes are stored, and the day is settled through the queue; each player's
    (auth headers, user id), logged in after the settlement."""
    players = {name: _player(api, f"{name}@example.com") for name in ("ann", "bob", "cid")}
    ann, bob, cid = (players[n][1] for n in ("ann", "bob", "cid"))
    with p.session() as s:
        open_day(s, p.clock, p.settings, SYMBOLS)
    with p.session() as s:
        predict(s, p.clock, p.settings, ann, "AMZN", "UP")
        predict(s, p.clock, p.settings, cid, "AAPL", "DOWN")
    _cancel(p, ann, "AMZN")  # slot refunded: Ann still has 3
    _cancel(p, cid, "AAPL")  # Cid: only a cancelled prediction
    with p.session() as s:
        predict(s, p.clock, p.settings, ann, "AAPL", "UP")  # win
        predict(s, p.clock, p.settings, ann, "MSFT", "UP")  # loss
        predict(s, p.clock, p.settings, ann, "NVDA", "DOWN")  # VOID (flat)
        predict(s, p.clock, p.settings, bob, "MSFT", "DOWN")  # win
        predict(s, p.clock, p.settings, bob, "AMZN", "DOWN")  # loss
    with p.session() as s:
        for symbol, close in CLOSES.items():
            add_close(s, symbol, DAY, close)
    p.clock.set(AFTER_CLOSE)
    _settle_through_the_queue(p)
    assert p.scalar("SELECT count(*) FROM crypto.predictions WHERE status = 'PENDING'") == 0
    # Fresh tokens: the morning's expired while the clock moved past the close.
    fresh = {name: _player(api, f"{name}@example.com") for name in players}
    assert {n: u for n, (_, u) in fresh.items()} == {n: u for n, (_, u) in players.items()}
    return fresh


def _inbox(api: TestClient, auth: dict[str, str], **params: object) -> dict[str, Any]:
    r = api.get("/v1/notifications", params=params, headers=auth)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _unread(api: TestClient, auth: dict[str, str]) -> int:
    r = api.get("/v1/notifications/unread-count", headers=auth)
    assert r.status_code == 200, r.text
    return int(r.json()["data"]["unread"])


def _read(api: TestClient, auth: dict[str, str], notification_id: int | str) -> Any:
    return api.post(f"/v1/notifications/{notification_id}/read", headers=auth)


# --- 1. a settled day ---------------------------------------------------------------------
def test_a_settled_day_gives_each_player_with_a_live_prediction_one_results_notification(
    pipeline: Pipeline, api: TestClient
) -> None:
    p = pipeline
    players = _a_settled_day(p, api)
    (ann_auth, ann), (bob_auth, bob), (cid_auth, cid) = (players[n] for n in ("ann", "bob", "cid"))

    expected = _figures_from_predictions(p)
    assert set(expected) == {ann, bob}  # Cid's only prediction was cancelled
    # ...and by hand: AAPL UP won, MSFT UP lost, NVDA VOID; MSFT DOWN won, AMZN DOWN lost.
    assert expected[ann] == {
        "trading_day": "2026-11-23",
        "predictions": 3,
        "wins": 1,
        "voids": 1,
        "points": 50,
    }
    assert expected[bob] == {
        "trading_day": "2026-11-23",
        "predictions": 2,
        "wins": 1,
        "voids": 0,
        "points": 50,
    }

    rows = _notifications(p)
    assert sorted(r["user_id"] for r in rows) == sorted([ann, bob])
    for row in rows:
        assert row["category"] == "SETTLEMENT"
        assert row["title"] == "Your results for 2026-11-23"
        assert row["data"] == expected[row["user_id"]]
        assert row["read_at"] is None
        assert row["created_at"] == p.clock.now()
    by_user = {r["user_id"]: r for r in rows}
    assert by_user[ann]["body"] == "3 predictions, 1 correct, +50 points"
    assert by_user[bob]["body"] == "2 predictions, 1 correct, +50 points"

    # Through the API: each player sees theirs, Cid sees nothing.
    ann_inbox = _inbox(api, ann_auth)
    assert [n["id"] for n in ann_inbox["data"]] == [by_user[ann]["id"]]
    assert ann_inbox["data"][0]["data"] == expected[ann]
    assert ann_inbox["meta"]["unread"] == 1
    assert _inbox(api, cid_auth)["data"] == [] and _unread(api, cid_auth) == 0
    assert _unread(api, bob_auth) == 1

    # Bob reads his; then the same settlement.completed arrives 3 more times, later.
    assert _read(api, bob_auth, by_user[bob]["id"]).status_code == 200
    before = _notifications(p)
    [completed] = _outbox(p, "settlement.completed")
    p.clock.advance(timedelta(minutes=5))
    assert _redeliver(p, completed, "settlement_compute") == 3
    assert _notifications(p) == before  # same rows, same times, Bob's still read
    runs = "SELECT count(*) FROM crypto.job_runs WHERE job = :j AND status = 'SUCCEEDED'"
    assert p.scalar(runs, j="settlement.follow_up") == 4


# --- 2. a price revision ------------------------------------------------------------------
def test_a_revision_updates_the_affected_players_notification_and_marks_it_unread(
    pipeline: Pipeline, api: TestClient
) -> None:
    p = pipeline
    players = _a_settled_day(p, api)
    (ann_auth, ann), (bob_auth, bob) = players["ann"], players["bob"]
    [ann_note] = _notifications(p, ann)
    [bob_note] = _notifications(p, bob)
    p.clock.advance(timedelta(minutes=1))
    assert _read(api, ann_auth, ann_note["id"]).status_code == 200
    assert _read(api, bob_auth, bob_note["id"]).status_code == 200
    [ann_read] = _notifications(p, ann)
    [bob_read] = _notifications(p, bob)
    assert ann_read["read_at"] is not None and bob_read["read_at"] is not None

    # AAPL actually fell: Ann's AAPL UP loses (her 50 points are reversed); Bob had no AAPL.
    with p.session() as s:
        add_close(s, "AAPL", DAY, "99.000000", vendor_rev=1)
    p.clock.advance(timedelta(minutes=30))
    _settle_through_the_queue(p)
    assert len(_outbox(p, "settlement.completed")) == 2

    expected = _figures_from_predictions(p)
    assert expected[ann] == {
        "trading_day": "2026-11-23",
        "predictions": 3,
        "wins": 0,
        "voids": 1,
        "points": 0,
    }
    [ann_after] = _notifications(p, ann)
    assert ann_after["id"] == ann_note["id"]  # updated, not a second one
    assert ann_after["data"] == expected[ann]
    assert ann_after["body"] == "3 predictions, 0 correct, +0 points"
    assert ann_after["read_at"] is None
    assert ann_after["created_at"] == p.clock.now()
    assert _unread(api, ann_auth) == 1
    assert [n["id"] for n in _inbox(api, ann_auth, unread_only=True)["data"]] == [ann_note["id"]]

    # Bob's figures did not change: his notification is exactly as he left it (read).
    assert _notifications(p, bob) == [bob_read]
    assert _unread(api, bob_auth) == 0
    assert expected[bob] == bob_read["data"]
    # Nobody else got one (Cid's cancelled AAPL DOWN would have won now).
    assert len(_notifications(p)) == 2

    # Ann reads it; the revision's event delivered 3 more times changes nothing.
    assert _read(api, ann_auth, ann_note["id"]).status_code == 200
    before = _notifications(p)
    revision_event = _outbox(p, "settlement.completed")[-1]
    p.clock.advance(timedelta(minutes=5))
    assert _redeliver(p, revision_event, "settlement_compute") == 3
    assert _notifications(p) == before


def test_a_revised_results_notification_comes_back_on_top_of_the_inbox(
    pipeline: Pipeline, api: TestClient
) -> None:
    """Marked unread again by a revision, the results notification is the newest one:
    listed first (on the first page), not left below ones created since, out of
    created_at order."""
    p = pipeline
    ann_auth, ann = _a_settled_day(p, api)["ann"]
    [results] = _notifications(p, ann)
    assert _read(api, ann_auth, results["id"]).status_code == 200
    _notify(p, ann, 1)  # a reward notification, after the day's results
    with p.session() as s:
        add_close(s, "AAPL", DAY, "99.000000", vendor_rev=1)  # Ann's AAPL UP now loses
    p.clock.advance(timedelta(minutes=30))
    _settle_through_the_queue(p)

    listed = _inbox(api, ann_auth)["data"]
    assert len(listed) == 2
    created = [n["created_at"] for n in listed]
    assert created == sorted(created, reverse=True), listed
    [first] = _inbox(api, ann_auth, limit=1)["data"]
    assert (first["title"], first["read_at"]) == ("Your results for 2026-11-23", None)
    assert first["data"]["wins"] == 0


# --- 3. reward outcomes -------------------------------------------------------------------
def test_reward_outcomes_notify_once_and_never_carry_the_code(pipeline: Pipeline, api: TestClient) -> None:
    p = pipeline
    with p.session() as s:
        add_reward(s, "COFFEE", cost=400, stock=1)
    first_auth, first = _player(api, "first@example.com")
    second_auth, second = _player(api, "second@example.com")
    ids = []
    for auth in (first_auth, second_auth):
        r = api.post("/v1/rewards/redeem", json={"sku": "COFFEE"}, headers=auth)
        assert r.status_code == 202, r.text
        ids.append(int(r.json()["data"]["redemption_id"]))
    run_sagas(p)  # the sagas, then their reward.issued / reward.failed on the same queue
    by_status = {str(redemption(p, rid)["status"]): rid for rid in ids}
    assert set(by_status) == {"ISSUED", "FAILED"}  # one unit: the other is out of stock
    owner = {ids[0]: (first_auth, first), ids[1]: (second_auth, second)}

    # Issued: "ready", and the code nowhere in the notification.
    issued_auth, issued_user = owner[by_status["ISSUED"]]
    mine = api.get(f"/v1/rewards/redemptions/{by_status['ISSUED']}", headers=issued_auth).json()["data"]
    code = str(mine["code"])
    assert code
    [ready] = _notifications(p, issued_user)
    assert ready["category"] == "REWARD"
    assert ready["title"] == "Your COFFEE gift code is ready"
    assert ready["data"] == {"redemption_id": by_status["ISSUED"], "status": "ISSUED", "cost_points": 400}
    assert code not in json.dumps(ready, default=str)
    [listed] = _inbox(api, issued_auth)["data"]
    assert listed["id"] == ready["id"] and code not in json.dumps(listed)

    # Failed: "could not be issued", with the points that came back.
    failed_auth, failed_user = owner[by_status["FAILED"]]
    [failed] = _notifications(p, failed_user)
    assert failed["category"] == "REWARD"
    assert failed["title"] == "Your COFFEE gift code could not be issued"
    assert "400 points" in failed["body"]
    assert failed["data"] == {"redemption_id": by_status["FAILED"], "status": "FAILED", "cost_points": 400}
    assert _unread(api, failed_auth) == 1

    # Each outcome event delivered 3 more times: still one notification each.
    before = _notifications(p)
    assert len(before) == 2
    p.clock.advance(timedelta(minutes=5))
    for topic in ("reward.issued", "reward.failed"):
        [event] = _outbox(p, topic)
        assert _redeliver(p, event, "rewards_saga") == 3
    assert _notifications(p) == before


# --- 4. the inbox API ---------------------------------------------------------------------
def _notify(p: Pipeline, user_id: int, redemption_id: int, status: str = "ISSUED") -> int:
    """One reward notification for `user_id`, through the consumer's job; its id."""
    p.clock.advance(timedelta(minutes=1))
    outcome = RewardOutcome(
        redemption_id=redemption_id, user_id=user_id, sku="COFFEE", title="COFFEE gift code",
        cost_points=400, status=status, reason=None if status == "ISSUED" else "out of stock",
    )  # fmt: skip
    assert p.container.jobs().notify_reward(outcome).details["created"] is True
    return int(str(p.scalar("SELECT max(id) FROM crypto.notifications WHERE user_id = :u", u=user_id)))


def test_the_inbox_pages_newest_first_and_marks_read(pipeline: Pipeline, api: TestClient) -> None:
    p = pipeline
    auth, me = _player(api, "reader@example.com")
    mine = [_notify(p, me, rid, "ISSUED" if rid % 2 else "FAILED") for rid in range(1, 6)]
    newest_first = sorted(mine, reverse=True)

    # Cursor paging: 2, 2, 1, then no cursor.
    pages: list[list[int]] = []
    cursor: str | None = None
    for _ in range(5):
        params: dict[str, object] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        body = _inbox(api, auth, **params)
        pages.append([n["id"] for n in body["data"]])
        assert body["meta"]["unread"] == 5 and body["meta"]["limit"] == 2
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            break
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [i for page in pages for i in page] == newest_first
    created = [n["created_at"] for n in _inbox(api, auth, limit=5)["data"]]
    assert created == sorted(created, reverse=True)
    # A page that ends exactly at the last one has no next cursor.
    exact = _inbox(api, auth, limit=5)
    assert [n["id"] for n in exact["data"]] == newest_first and exact["meta"]["next_cursor"] is None
    assert _inbox(api, auth)["meta"]["next_cursor"] is None

    # Mark one read: idempotent, the unread count drops by one.
    assert _unread(api, auth) == 5
    r = _read(api, auth, mine[2])
    assert r.status_code == 200, r.text
    first_read_at = r.json()["data"]["read_at"]
    assert first_read_at is not None and r.json()["data"]["id"] == mine[2]
    assert _unread(api, auth) == 4
    p.clock.advance(timedelta(minutes=1))
    again = _read(api, auth, mine[2])
    assert again.status_code == 200 and again.json()["data"]["read_at"] == first_read_at
    assert _unread(api, auth) == 4
    unread_page = _inbox(api, auth, unread_only=True)
    assert [n["id"] for n in unread_page["data"]] == [i for i in newest_first if i != mine[2]]
    assert unread_page["meta"]["unread"] == 4
    assert all(n["read_at"] is None for n in unread_page["data"])
    # unread_only pages with the cursor too.
    first = _inbox(api, auth, unread_only=True, limit=3)
    rest = _inbox(api, auth, unread_only=True, limit=3, cursor=first["meta"]["next_cursor"])
    assert [n["id"] for n in first["data"] + rest["data"]] == [i for i in newest_first if i != mine[2]]
    assert rest["meta"]["next_cursor"] is None

    # Read all: the 4 still unread, then none.
    r = api.post("/v1/notifications/read-all", headers=auth)
    assert r.status_code == 200 and r.json()["data"] == {"marked": 4}
    assert api.post("/v1/notifications/read-all", headers=auth).json()["data"] == {"marked": 0}
    assert _unread(api, auth) == 0
    assert _inbox(api, auth, unread_only=True)["data"] == []
    assert len(_inbox(api, auth)["data"]) == 5
    # The one read first kept its first read time.
    assert next(n for n in _inbox(api, auth)["data"] if n["id"] == mine[2])["read_at"] == first_read_at


def test_a_player_sees_and_marks_only_their_own_notifications(pipeline: Pipeline, api: TestClient) -> None:
    p = pipeline
    auth, me = _player(api, "me@example.com")
    other_auth, other = _player(api, "other@example.com")
    mine = _notify(p, me, 1)
    theirs = _notify(p, other, 2)

    r = _read(api, auth, theirs)
    assert r.status_code == 404 and error_code(r) == "NOTIF_404"
    assert [n["id"] for n in _inbox(api, auth)["data"]] == [mine]
    assert api.post("/v1/notifications/read-all", headers=auth).json()["data"] == {"marked": 1}
    # Theirs is untouched by my read and read-all.
    assert _unread(api, other_auth) == 1
    assert [(n["id"], n["read_at"]) for n in _inbox(api, other_auth)["data"]] == [(theirs, None)]
    # An id nobody has is the same 404.
    r = _read(api, auth, theirs + 1000)
    assert r.status_code == 404 and error_code(r) == "NOTIF_404"


def test_the_inbox_needs_a_token(pipeline: Pipeline, api: TestClient) -> None:
    _, me = _player(api, "anon@example.com")
    note = _notify(pipeline, me, 1)
    for method, path in (
        ("GET", "/v1/notifications"),
        ("GET", "/v1/notifications/unread-count"),
        ("POST", f"/v1/notifications/{note}/read"),
        ("POST", "/v1/notifications/read-all"),
    ):
        assert api.request(method, path).status_code == 401, (method, path)
        bad = api.request(method, path, headers=bearer("not-a-token"))
        assert bad.status_code == 401, (method, path)
    assert pipeline.scalar("SELECT read_at IS NULL FROM crypto.notifications") is True


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "abc"},
        {"cursor": "0"},
        {"cursor": "-5"},
        {"cursor": str(2**63)},
        {"cursor": "999999999999999999:1"},  # an instant past datetime's range
        {"cursor": "1:9999999999999999999"},  # an id past bigint
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "many"},
        {"unread_only": "perhaps"},
    ],
)
def test_a_bad_cursor_or_limit_is_422(api: TestClient, params: dict[str, str]) -> None:
    auth, _ = _player(api, "pager@example.com")
    r = api.get("/v1/notifications", params=params, headers=auth)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("notification_id", ["abc", "0", "-1", str(2**63)])
def test_a_bad_notification_id_is_422(api: TestClient, notification_id: str) -> None:
    auth, _ = _player(api, "badid@example.com")
    assert _read(api, auth, notification_id).status_code == 422
