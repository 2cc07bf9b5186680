"""Crash safety with real processes: a worker SIGKILLed in the middle of a settlement
and a relay SIGKILLed in the middle of a batch; after a restart the state converges
with nothing lost and nothing doubled.

The subprocesses run on a shifted clock (CLOCK_START_AT/CLOCK_ANCHOR_AT) starting at the
instant the test chooses, so the day under test does not depend on the real date."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from myapi.admin.repository import IntegrityRepository
from myapi.outbox.repository import OutboxRepository
from myapi.providers.queue import OutgoingMessage
from tests.support.factories import add_close, make_user, open_day, predict
from tests.support.pipeline import Pipeline
from tests.support.processes import spawn, wait_for

# Real subprocesses started, SIGKILLed and restarted: 2.5-5.5 s a test.
pytestmark = pytest.mark.slow

# The day under test and the instants the processes run at: predictions while the
# session is open (Monday 10:00 KST), the settlement after the close (Tuesday 06:30 KST).
DAY = date(2026, 11, 23)
DURING_DAY = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
AFTER_CLOSE = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)
# A subprocess's clock starts at the instant it is given and then runs in real time:
# everything it writes is stamped within this much of that instant.
CLOCK_SLACK = timedelta(minutes=5)


def test_worker_killed_mid_settlement_converges_after_restart(
    pipeline: Pipeline, procs: list[subprocess.Popen[bytes]]
) -> None:
    p = pipeline
    p.clock.set(DURING_DAY)
    with p.session() as s:
        open_day(s, p.clock, p.settings, ["AAPL", "MSFT"], trading_day=DAY)
        users = [make_user(s, f"crash{i}@example.com") for i in range(8)]
        for i, u in enumerate(users):
            predict(s, p.clock, p.settings, u, "AAPL", "UP" if i % 2 else "DOWN")
            predict(s, p.clock, p.settings, u, "MSFT", "UP" if i % 3 else "DOWN")
        add_close(s, "AAPL", DAY, "150.000000")
        add_close(s, "MSFT", DAY, "50.000000")
    # The session is closed for the workers: they start after the market close.
    p.clock.set(AFTER_CLOSE)
    body = json.dumps({"type": "settlement.requested", "payload": {"trading_day": DAY.isoformat()}})
    p.container.queue().send_batch(p.settings.queue_names["settlement_compute"], [OutgoingMessage(body)])

    # Hold the day's session row: the worker's settlement will block inside its transaction.
    blocker = p.engine.connect()
    tx = blocker.begin()
    blocker.execute(
        text("SELECT 1 FROM crypto.session_control WHERE trading_day = :d FOR UPDATE"), {"d": DAY}
    )
    worker = spawn("batch.worker", p, "--queue", "settlement_compute", at=AFTER_CLOSE)
    procs.append(worker)

    def blocked() -> bool:
        waiting = p.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'oxuniverse' AND wait_event_type = 'Lock'"
        )
        return int(str(waiting)) > 0

    wait_for(blocked, what="the worker to be inside the settlement")
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    tx.rollback()
    blocker.close()

    # The killed transaction left nothing behind but the evidence of the attempt.
    assert p.scalar("SELECT count(*) FROM crypto.predictions WHERE status = 'PENDING'") == 16
    assert p.scalar("SELECT count(*) FROM crypto.points_ledger WHERE ref_type = 'SETTLEMENT'") == 0
    assert (
        p.scalar("SELECT count(*) FROM crypto.job_runs WHERE job = 'settlement.run' AND status = 'RUNNING'")
        == 1
    )

    restarted = spawn("batch.worker", p, "--queue", "settlement_compute", at=AFTER_CLOSE)
    procs.append(restarted)
    wait_for(
        lambda: p.scalar("SELECT count(*) FROM crypto.predictions WHERE status = 'PENDING'") == 0,
        what="the restarted worker to settle",
    )
    correct = int(str(p.scalar("SELECT count(*) FROM crypto.predictions WHERE status = 'CORRECT'")))
    assert correct > 0
    assert p.scalar("SELECT count(*) FROM crypto.points_ledger WHERE ref_type = 'SETTLEMENT'") == correct
    assert p.scalar("SELECT sum(balance) FROM crypto.point_balances") == 8 * 1000 + 50 * correct
    with p.session() as s:
        assert [r.name for r in IntegrityRepository(s).run() if not r.passed] == []
    # Both workers ran on the clock they were given, not on the real date.
    with p.engine.connect() as conn:
        runs = text("SELECT started_at FROM crypto.job_runs WHERE job = 'settlement.run' ORDER BY id")
        started = list(conn.execute(runs).scalars())
        settled_at = conn.execute(
            text("SELECT settled_at FROM crypto.session_control WHERE trading_day = :d"), {"d": DAY}
        ).scalar_one()
    assert len(started) == 2
    assert all(AFTER_CLOSE <= at < AFTER_CLOSE + CLOCK_SLACK for at in started), started
    assert AFTER_CLOSE <= settled_at < AFTER_CLOSE + CLOCK_SLACK

    # Graceful stop: SIGTERM finishes the message in hand and exits 0.
    restarted.send_signal(signal.SIGTERM)
    assert restarted.wait(30) == 0


class BlackHole:
    """Accepts TCP connections and never answers: an SQS endpoint that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.sock.close()


def test_relay_killed_mid_batch_publishes_everything_after_restart(
    pipeline: Pipeline, procs: list[subprocess.Popen[bytes]]
) -> None:
    p = pipeline
    p.clock.set(AFTER_CLOSE)
    with p.session() as s:
        repo = OutboxRepository(s)
        for i in range(40):
            repo.add("settlement.requested", {"trading_day": DAY.isoformat(), "n": i}, now=p.clock.now())
    hole = BlackHole()
    try:
        relay = spawn("batch.outbox_relay", p, sqs_url=hole.url, at=AFTER_CLOSE)
        procs.append(relay)

        def claimed() -> bool:
            with p.engine.connect() as conn:
                free = conn.execute(
                    text("SELECT count(*) FROM (SELECT id FROM crypto.outbox FOR UPDATE SKIP LOCKED) x")
                ).scalar_one()
                conn.rollback()
            return int(free) == 0

        wait_for(claimed, what="the relay to claim the batch")
        relay.send_signal(signal.SIGKILL)
        relay.wait(10)
    finally:
        hole.close()
    assert p.scalar("SELECT count(*) FROM crypto.outbox WHERE published_at IS NULL") == 40

    again = spawn("batch.outbox_relay", p, "--once", at=AFTER_CLOSE)
    procs.append(again)
    assert again.wait(60) == 0
    assert p.scalar("SELECT count(*) FROM crypto.outbox WHERE published_at IS NULL") == 0
    # The restarted relay stamped the rows with its given clock, not the real date.
    assert p.scalar("SELECT min(published_at) FROM crypto.outbox") >= AFTER_CLOSE
    assert p.scalar("SELECT max(published_at) FROM crypto.outbox") < AFTER_CLOSE + CLOCK_SLACK
    queue = p.container.queue()
    name = p.settings.queue_names["settlement_compute"]
    ids: list[str] = []
    for _ in range(20):
        batch = queue.receive(name, 10, 0)
        if not batch:
            break
        ids += [json.loads(m.body)["id"] for m in batch]
    assert len(ids) == 40 and len(set(ids)) == 40
