"""The redemption saga under faults: real concurrency (a live server, concurrent saga
workers), every saga message delivered three times, and a real worker process
SIGKILLed inside each step and restarted. Whatever happens, every redemption ends
final with nothing lost and nothing doubled: stock, holds, debits and balances agree,
and every integrity check passes."""

from __future__ import annotations

import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from batch.worker import Worker
from myapi.events.relay import envelope
from myapi.main import create_app
from myapi.outbox.models import OutboxEvent
from myapi.points.service import PointsLedger
from myapi.providers.queue import MAX_BATCH_SIZE, OutgoingMessage
from myapi.providers.rewards import sandbox_code
from tests.support.db import failed_checks
from tests.support.http import bearer, dev_login
from tests.support.live_server import LiveServer
from tests.support.pipeline import Pipeline
from tests.support.processes import spawn, wait_for
from tests.support.rewards import add_reward, inventory, redemption, vendor_key

pytestmark = pytest.mark.slow

SKU = "GIFT"


# --- helpers ---------------------------------------------------------------------------
def _integrity_ok(p: Pipeline) -> None:
    with p.session() as s:
        assert failed_checks(s, p.clock.now()) == {}


def _rows(p: Pipeline, sql: str, **params: object) -> list[dict[str, Any]]:
    with p.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql), params)]


def _balances(p: Pipeline) -> dict[int, int]:
    return {
        r["user_id"]: r["balance"] for r in _rows(p, "SELECT user_id, balance FROM crypto.point_balances")
    }


def _debits(p: Pipeline) -> dict[str, int]:
    """Redemption id (text) -> how many REDEEM debits it has."""
    sql = "SELECT ref_id, count(*) AS n FROM crypto.points_ledger WHERE ref_type = 'REDEEM' GROUP BY 1"
    return {r["ref_id"]: int(r["n"]) for r in _rows(p, sql)}


def _hold_status(p: Pipeline, redemption_id: int) -> str | None:
    rows = _rows(
        p, "SELECT status::text AS s FROM crypto.points_holds WHERE ref_type = 'REDEEM' AND ref_id = :r",
        r=str(redemption_id),
    )  # fmt: skip
    return str(rows[0]["s"]) if rows else None


def _queue_empty(p: Pipeline) -> bool:
    depth = p.container.queue().depth(p.settings.queue_names["rewards_saga"])
    return depth["visible"] + depth["in_flight"] + depth["delayed"] == 0


def _drain_concurrently(p: Pipeline, workers: int = 4, one_at_a_time: bool = False) -> int:
    """Relay the outbox, then `workers` saga workers (threads over the pipeline's
    container) drain q-rewards-saga at the same time; repeated until nothing moves."""
    total = 0
    for _ in range(10):
        published = 0
        while (batch := p.relay().publish_once().published) > 0:
            published += batch
        pool = [Worker(p.container, "rewards_saga") for _ in range(workers)]
        if one_at_a_time:  # each receive takes one message: copies meet on different workers
            for w in pool:
                w.max_messages = 1
        with ThreadPoolExecutor(max_workers=workers) as threads:
            handled = sum(threads.map(lambda w: w.drain(max_rounds=1000), pool))
        total += handled
        if not published and not handled:
            break
    return total


# --- 1. real concurrency ---------------------------------------------------------------
PLAYERS = 100
STOCK = 50
COST = 600  # 1000 points cover one redemption, 1200 two


def test_100_players_racing_2_redeems_each_for_50_units_issue_exactly_50(pipeline: Pipeline) -> None:
    """Even players have 1000 points (one redemption fits, the second request is
    refused POINT_001), odd players 1200 (both fit): 150 accepted for 50 units. Requests
    go through a live uvicorn server all at once, then four saga workers race over the
    150 sagas (two of them for the same player, over the same balance, for half the
    players): exactly 50 ISSUED, 100 FAILED out of stock and fully compensated."""
    p = pipeline
    with p.session() as s:
        add_reward(s, SKU, cost=COST, stock=STOCK)
    app = create_app(container=p.container)
    with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=60) as http:
        with ThreadPoolExecutor(max_workers=20) as pool:
            logins = list(pool.map(lambda i: _login(http, f"racer{i:03d}@example.com"), range(PLAYERS)))
        users = [user_id for _auth, user_id in logins]
        start = {user_id: 1000 + (200 if i % 2 else 0) for i, user_id in enumerate(users)}
        with p.session() as s:
            ledger = PointsLedger(s, p.clock)
            for user_id, points in start.items():
                if points > 1000:
                    ledger.apply(
                        user_id=user_id, delta=points - 1000, reason="test_top_up",
                        ref_type="ADMIN", ref_id=f"top-up-{user_id}",
                    )  # fmt: skip
        assert _balances(p) == start

        go = threading.Barrier(2 * PLAYERS)

        def redeem(i: int) -> tuple[int, httpx.Response]:
            auth, user_id = logins[i // 2]
            # A client of its own: 200 threads sharing one pool race on its connections
            # (httpcore answers EBADF under load), which is not what this test is about.
            with httpx.Client(base_url=live.url, timeout=60) as own:
                go.wait(timeout=60)
                return user_id, own.post("/v1/rewards/redeem", json={"sku": SKU}, headers=auth)

        with ThreadPoolExecutor(max_workers=2 * PLAYERS) as pool:
            responses = list(pool.map(redeem, range(2 * PLAYERS)))

        accepted: dict[int, list[int]] = {u: [] for u in users}
        refused: list[tuple[int, str]] = []
        for user_id, r in responses:
            if r.status_code == 202:
                assert r.json()["data"]["status"] == "REQUESTED"
                accepted[user_id].append(int(r.json()["data"]["redemption_id"]))
            else:
                assert r.status_code == 409, r.text
                refused.append((user_id, str(r.json()["error"]["code"])))
        # Per player, under its balance lock: exactly what its points cover.
        assert {u: len(ids) for u, ids in accepted.items()} == {u: start[u] // COST for u in users}
        assert sorted(refused) == sorted((u, "POINT_001") for u in users if start[u] < 2 * COST)
        ids = sorted(i for group in accepted.values() for i in group)
        assert len(ids) == 150 and len(set(ids)) == 150
        # Refused requests left nothing: no redemption, no saga message.
        assert p.scalar("SELECT count(*) FROM crypto.rewards_redemptions") == 150
        assert p.scalar("SELECT count(*) FROM crypto.outbox WHERE topic = 'reward.requested'") == 150
        assert p.scalar("SELECT count(*) FROM crypto.points_holds") == 0

        assert _drain_concurrently(p, workers=4) >= 150
        assert _queue_empty(p)

        rows = _rows(
            p, "SELECT id, user_id, status::text AS status, failure_reason, vendor_code, vendor_key, "
            "cost_points FROM crypto.rewards_redemptions ORDER BY id",
        )  # fmt: skip
        by_status: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_status.setdefault(row["status"], []).append(row)
        assert {k: len(v) for k, v in by_status.items()} == {"ISSUED": STOCK, "FAILED": 150 - STOCK}
        assert {r["failure_reason"] for r in by_status["FAILED"]} == {"out of stock"}
        for row in by_status["ISSUED"]:
            assert row["vendor_code"] == sandbox_code(str(row["vendor_key"]), SKU)
        assert len({r["vendor_code"] for r in by_status["ISSUED"]}) == STOCK
        assert len({r["vendor_key"] for r in rows}) == len(rows)  # one vendor key each
        assert inventory(p, SKU) == (STOCK, 0, STOCK)
        # Every FAILED one was compensated: its hold voided, nothing debited.
        holds = {
            int(h["ref_id"]): h["status"]
            for h in _rows(p, "SELECT ref_id, status::text AS status FROM crypto.points_holds")
        }
        assert holds == {r["id"]: "COMMITTED" if r["status"] == "ISSUED" else "CANCELLED" for r in rows}
        assert _debits(p) == {str(r["id"]): 1 for r in by_status["ISSUED"]}
        issued_per_user = {u: 0 for u in users}
        for row in by_status["ISSUED"]:
            issued_per_user[row["user_id"]] += 1
        balances = _balances(p)
        assert balances == {u: start[u] - COST * issued_per_user[u] for u in users}
        assert min(balances.values()) >= 0
        assert p.scalar("SELECT count(*) FROM crypto.outbox WHERE topic = 'reward.issued'") == STOCK
        assert p.scalar("SELECT count(*) FROM crypto.outbox WHERE topic = 'reward.failed'") == 150 - STOCK
        _integrity_ok(p)

        # Sold out: everyone racing again is refused REWARD_001 and leaves nothing.
        go = threading.Barrier(2 * PLAYERS)
        with ThreadPoolExecutor(max_workers=2 * PLAYERS) as pool:
            again = list(pool.map(redeem, range(2 * PLAYERS)))
        assert {(r.status_code, r.json()["error"]["code"]) for _u, r in again} == {(409, "REWARD_001")}
        assert p.scalar("SELECT count(*) FROM crypto.rewards_redemptions") == 150
        assert _balances(p) == balances
    _integrity_ok(p)


def _login(http: httpx.Client, email: str) -> tuple[dict[str, str], int]:
    r = http.post("/v1/auth/dev-login", json={"email": email})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    return bearer(data["access_token"]), int(data["user"]["id"])


# --- 2. every saga message delivered three times ---------------------------------------
def test_every_saga_message_delivered_three_times_issues_each_redemption_once(
    api: TestClient, pipeline: Pipeline
) -> None:
    p = pipeline
    with p.session() as s:
        add_reward(s, SKU, cost=300, stock=10)
    players = [_player(api, f"dup{i}@example.com") for i in range(6)]
    ids: list[int] = []
    for auth, _user_id in players:
        r = api.post("/v1/rewards/redeem", json={"sku": SKU}, headers=auth)
        assert r.status_code == 202, r.text
        ids.append(int(r.json()["data"]["redemption_id"]))
    # The relay sends each saga message once; two more copies of each envelope follow
    # (a relay crash after sending, SQS's at-least-once delivery).
    assert p.relay().publish_once().published == len(ids)
    with p.session() as s:
        events = list(s.scalars(select(OutboxEvent).where(OutboxEvent.topic == "reward.requested")))
        copies = [OutgoingMessage(body=envelope(e), attributes={"type": e.topic}) for e in events] * 2
    queue, name = p.container.queue(), p.settings.queue_names["rewards_saga"]
    for start in range(0, len(copies), MAX_BATCH_SIZE):
        sent = queue.send_batch(name, copies[start : start + MAX_BATCH_SIZE])
        assert not sent.failed
    assert queue.depth(name)["visible"] == 3 * len(ids)

    # Every copy of every saga message, and each redemption's reward.issued notification.
    assert _drain_concurrently(p, workers=4, one_at_a_time=True) == 3 * len(ids) + len(ids)
    assert _queue_empty(p)
    # Every delivery ran the saga's job, and all of them succeeded.
    runs = _rows(
        p,
        "SELECT status::text AS s, count(*) AS n FROM crypto.job_runs WHERE job = 'rewards.saga' GROUP BY 1",
    )
    assert {r["s"]: r["n"] for r in runs} == {"SUCCEEDED": 3 * len(ids)}

    for rid in ids:
        row = redemption(p, rid)
        assert row["status"] == "ISSUED", row
        assert row["vendor_code"] == sandbox_code(vendor_key(p, rid), SKU)
        assert 1 <= int(str(row["vendor_attempts"])) <= 3
        assert _hold_status(p, rid) == "COMMITTED"
    assert _debits(p) == {str(rid): 1 for rid in ids}
    assert inventory(p, SKU) == (10, 0, len(ids))
    assert set(_balances(p).values()) == {700}
    assert p.scalar("SELECT count(*) FROM crypto.outbox WHERE topic = 'reward.issued'") == len(ids)
    _integrity_ok(p)


def _player(api: TestClient, email: str) -> tuple[dict[str, str], int]:
    login = dev_login(api, email)
    return bearer(login["access_token"]), int(login["user"]["id"])


# --- 3. a worker SIGKILLed inside each step ----------------------------------------------
VISIBILITY_S = 2  # the killed worker's message comes back within seconds


@dataclass(frozen=True)
class KillCase:
    point: str
    # What the killed worker left: (status, hold status, vendor attempts, reserved units).
    left: tuple[str, str | None, int, int]
    out_of_stock: bool = False  # the saga compensates: another redemption took the unit


KILL_CASES = [
    KillCase("hold:before_commit", ("REQUESTED", None, 0, 0)),
    KillCase("hold:after_commit", ("REQUESTED", "OPEN", 0, 0)),
    KillCase("reserve:before_commit", ("REQUESTED", "OPEN", 0, 0)),
    KillCase("reserve:after_commit", ("RESERVED", "OPEN", 0, 1)),
    KillCase("begin_vendor_call:before_commit", ("RESERVED", "OPEN", 0, 1)),
    KillCase("begin_vendor_call:after_commit", ("RESERVED", "OPEN", 1, 1)),
    KillCase("vendor:after_issue", ("RESERVED", "OPEN", 1, 1)),
    KillCase("commit:before_commit", ("RESERVED", "OPEN", 1, 1)),
    KillCase("commit:after_commit", ("ISSUED", "COMMITTED", 1, 0)),
    KillCase("compensate:before_commit", ("REQUESTED", "OPEN", 0, 0), out_of_stock=True),
    KillCase("compensate:after_commit", ("FAILED", "CANCELLED", 0, 0), out_of_stock=True),
]


@pytest.mark.parametrize("case", KILL_CASES, ids=[c.point for c in KILL_CASES])
def test_worker_killed_inside_a_step_converges_after_restart(
    api: TestClient, pipeline: Pipeline, procs: list[subprocess.Popen[bytes]], case: KillCase
) -> None:
    """A real worker process (tests/support/crashing_worker.py) SIGKILLs itself at the
    case's point; a normal worker started next gets the undeleted message back after the
    visibility timeout and finishes the saga: the same code, one debit, stock and points
    exact. The out-of-stock cases kill the compensation instead."""
    p = pipeline
    with p.session() as s:
        add_reward(s, SKU, cost=400, stock=1)
    auth, user_id = _player(api, "killed@example.com")
    winner: int | None = None
    if case.out_of_stock:  # another player's redemption takes the only unit first
        other_auth, _ = _player(api, "first@example.com")
        r = api.post("/v1/rewards/redeem", json={"sku": SKU}, headers=other_auth)
        assert r.status_code == 202, r.text
        winner = int(r.json()["data"]["redemption_id"])
    r = api.post("/v1/rewards/redeem", json={"sku": SKU}, headers=auth)
    assert r.status_code == 202, r.text
    rid = int(r.json()["data"]["redemption_id"])
    if winner is not None:
        assert p.container.reward_saga().advance(winner)["status"] == "ISSUED"
    # The saga messages, and the winner's reward.issued (its notification, on the same queue).
    assert p.relay().publish_once().published == (3 if case.out_of_stock else 1)

    crashing = spawn(
        "tests.support.crashing_worker",
        p,
        "--queue",
        "rewards_saga",
        visibility_s=VISIBILITY_S,
        CRASH_AT=case.point,
    )
    procs.append(crashing)
    try:
        crashing.wait(30)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the worker did not reach {case.point}") from None
    stderr = crashing.stderr.read().decode() if crashing.stderr else ""
    assert crashing.returncode == -signal.SIGKILL, stderr
    assert f"SIGKILL at {case.point}" in stderr

    # The kill left exactly the steps committed before it.
    left = redemption(p, rid)
    reserved = inventory(p, SKU)[1]
    assert (left["status"], _hold_status(p, rid), left["vendor_attempts"], reserved) == case.left
    assert not _queue_empty(p)  # the message was never deleted: it comes back

    procs.append(spawn("batch.worker", p, "--queue", "rewards_saga", visibility_s=VISIBILITY_S))
    wait_for(lambda: _queue_empty(p), timeout=40, what="the restarted worker to finish the saga")

    done = redemption(p, rid)
    debits = _debits(p)
    status, _hold, attempts, _reserved = case.left
    # The restart asks the vendor again (same key) unless the saga had ended or cannot
    # reserve a unit.
    asks_again = status not in ("ISSUED", "FAILED") and not case.out_of_stock
    assert done["vendor_attempts"] == attempts + (1 if asks_again else 0)
    if case.out_of_stock:
        assert done["status"] == "FAILED" and done["failure_reason"] == "out of stock", done
        assert _hold_status(p, rid) == "CANCELLED"
        assert str(rid) not in debits
        assert _balances(p)[user_id] == 1000
    else:
        assert done["status"] == "ISSUED", done
        # The same code after the restart: the vendor's order is keyed by the redemption's
        # vendor key, which the restart reads back unchanged.
        assert done["vendor_key"] == left["vendor_key"]
        assert done["vendor_code"] == sandbox_code(str(done["vendor_key"]), SKU)
        assert _hold_status(p, rid) == "COMMITTED"
        assert debits == {str(rid): 1}
        assert _balances(p)[user_id] == 600
    assert inventory(p, SKU) == (1, 0, 1)
    assert p.scalar("SELECT count(*) FROM crypto.rewards_redemptions") == (2 if case.out_of_stock else 1)
    assert p.scalar("SELECT count(*) FROM crypto.outbox WHERE topic = 'reward.issued'") == 1
    assert p.scalar("SELECT count(*) FROM crypto.outbox WHERE topic = 'reward.failed'") == (
        1 if case.out_of_stock else 0
    )
    _integrity_ok(p)
    # The run the kill interrupted stays RUNNING (the evidence); every message else ran once.
    runs = _rows(
        p,
        "SELECT status::text AS s, count(*) AS n FROM crypto.job_runs WHERE job = 'rewards.saga' GROUP BY 1",
    )
    assert {r["s"]: r["n"] for r in runs} == {"RUNNING": 1, "SUCCEEDED": 2 if case.out_of_stock else 1}
