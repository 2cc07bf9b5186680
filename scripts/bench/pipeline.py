"""Benchmark of the outbox pipeline: committed outbox row -> relay -> SQS -> consumer.

    .venv/bin/python -m scripts.bench.pipeline [--events 5000] [--batch 50] [--rate 1000]
        [--sqs-server fauxqs|subprocess|in-process] [--consumers 1]

Not part of the test run. What it does, and undoes at the end (also on Ctrl-C or an error):

1. A fresh database on the local server (BENCH_DATABASE_URL, else 127.0.0.1:5432, else
   embedded), migrated to head; dropped at the end.
2. An SQS endpoint (BENCH_SQS_ENDPOINT_URL, else a local SQS-compatible server: by
   default fauxqs, a Node.js server installed from npm on first use into
   .local/bench-fauxqs, pinned by scripts/bench/fauxqs/package-lock.json; moto with
   --sqs-server subprocess|in-process) and the app's queues under a prefix of this
   run's own.
3. The relay as the app runs it, `python -m batch.outbox_relay`, in a process of its own
   (OUTBOX_POLL_INTERVAL_S=0.05), and in this process a consumer standing for a worker's
   receive loop: long polls of the settlement queue (10 per receive, 1 s wait), the
   receive time of each message noted, then the batch deleted. The app's worker is not
   run: its handler would settle a day.
4. After one warm-up event has made the round trip, `--events` events of topic
   `settlement.requested` are committed in transactions of `--batch`, at about `--rate`
   events/s, each with its insert time `t0` (epoch seconds) in the payload. Latency =
   receive time - t0. The consumer must see every event; missing and duplicate ones are
   counted.

The last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from myapi.core.clock import SystemClock
from myapi.core.config import Settings
from myapi.core.db import make_engine, make_sessionmaker, unit_of_work
from myapi.events.catalogue import CATALOGUE, Topic
from myapi.events.relay import OutboxRelay
from myapi.outbox.repository import OutboxRepository
from myapi.providers.queue import (
    OutgoingMessage,
    QueueError,
    SendBatchResult,
    SqsQueue,
    ensure_queues,
    make_sqs_client,
)
from scripts import devstack
from scripts.bench.common import ROOT, log
from scripts.bench.common import terminate as _terminate

TOPIC = Topic.SETTLEMENT_REQUESTED
TARGET_P95_MS = 2000.0
OUTBOX_BATCH = Settings.model_fields["outbox_batch_size"].default
WARMUP_N = -1


@dataclass
class Received:
    at: float
    n: int
    t0: float
    outbox_id: str


@dataclass
class Consumer:
    """Long-polls one queue in a thread; notes when each message arrived, deletes it."""

    queue: SqsQueue
    queue_name: str
    wait_s: int = 1
    received: list[Received] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    receives: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bench-consumer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.wait_s + 15)

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def _run(self) -> None:
        url = self.queue.url(self.queue_name)
        while not self._stop.is_set():
            try:
                messages = self.queue.receive(self.queue_name, 10, self.wait_s)
            except QueueError as exc:
                self.errors.append(str(exc))
                time.sleep(0.5)
                continue
            at = time.time()
            self.receives += 1
            if not messages:
                continue
            batch: list[Received] = []
            for m in messages:
                try:
                    envelope = json.loads(m.body)
                    payload = envelope["payload"]
                    batch.append(Received(at, int(payload["n"]), float(payload["t0"]), str(envelope["id"])))
                except (ValueError, KeyError, TypeError) as exc:
                    self.errors.append(f"unparsable message {m.message_id}: {exc}")
            with self._lock:
                self.received.extend(batch)
            try:
                self.queue.client.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(messages)
                    ],
                )
            except Exception as exc:  # noqa: BLE001 - noted and reported, the loop goes on
                self.errors.append(f"delete failed: {exc}")


@dataclass
class Relay:
    """`python -m batch.outbox_relay` in a session of its own."""

    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "batch.outbox_relay"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM (the relay finishes its pass and exits), SIGKILL if it does not."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def add_events(factory: Any, first: int, count: int) -> None:
    """One committed transaction of `count` events numbered from `first`."""
    with unit_of_work(factory) as session:
        repo = OutboxRepository(session)
        for n in range(first, first + count):
            t0 = time.time()
            repo.add(
                TOPIC,
                {"trading_day": "2026-11-23", "n": n, "t0": t0},
                now=datetime.fromtimestamp(t0, UTC),
            )


def wait_until(predicate: Any, timeout_s: float, alive: Any) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        if not alive():
            return False
        time.sleep(0.02)
    return predicate()


FAUXQS_SOURCE = ROOT / "scripts" / "bench" / "fauxqs"
FAUXQS_HOME = ROOT / ".local" / "bench-fauxqs"


def install_fauxqs() -> Path:
    """fauxqs (npm, pinned by scripts/bench/fauxqs/package-lock.json) installed once into
    .local/bench-fauxqs with `npm ci`; reinstalled when the pinned files change."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("--sqs-server fauxqs needs Node.js and npm; or use --sqs-server subprocess")
    FAUXQS_HOME.mkdir(parents=True, exist_ok=True)
    names = ("package.json", "package-lock.json", "start.mjs")
    stale = any(
        not (FAUXQS_HOME / n).exists() or (FAUXQS_HOME / n).read_bytes() != (FAUXQS_SOURCE / n).read_bytes()
        for n in names
    )
    if stale or not (FAUXQS_HOME / "node_modules" / "fauxqs").is_dir():
        for n in names:
            shutil.copyfile(FAUXQS_SOURCE / n, FAUXQS_HOME / n)
        log(f"installing fauxqs into {FAUXQS_HOME} (npm ci)")
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=FAUXQS_HOME, check=True
        )
    return FAUXQS_HOME


@dataclass
class SqsProcess:
    """An SQS-compatible server in a process of its own: moto (--sqs-server subprocess)
    or fauxqs, a Node.js server (--sqs-server fauxqs)."""

    log_path: Path
    kind: str = "moto"
    process: subprocess.Popen[bytes] | None = None
    url: str = ""

    def start(self) -> None:
        port = devstack.free_port()
        env = dict(os.environ)
        if self.kind == "fauxqs":
            cwd = install_fauxqs()
            command = ["node", "start.mjs"]
            env["FAUXQS_PORT"] = str(port)
        else:
            cwd = ROOT
            command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError(f"the SQS server did not start; see {self.log_path}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


class NullQueue(SqsQueue):
    """Accepts every message at no cost: what the relay does apart from SQS."""

    def __init__(self) -> None:
        pass

    def send_batch(self, queue_name: str, messages: Any) -> SendBatchResult:
        return SendBatchResult(sent=list(range(len(messages))))


@dataclass
class Diagnostics:
    send_batch_ms: float = math.nan
    receive_delete_ms: float = math.nan
    relay_alone_per_s: float = math.nan
    relay_alone_pass_ms: float = math.nan


def diagnose(factory: Any, settings: Settings, queue_name: str, events: int) -> Diagnostics:
    """Where the time goes, once the relay and the consumers are stopped: the cost of one
    SQS call on the (drained) queue, and the relay's own pace with a no-op queue."""
    d = Diagnostics()
    queue = SqsQueue(make_sqs_client(settings))
    # A queue of its own, empty, with the same attributes as the app's standard queues.
    diag_name = queue_name + "-diag"
    attributes = queue.client.get_queue_attributes(QueueUrl=queue.url(queue_name), AttributeNames=["All"])
    keep = ("VisibilityTimeout", "ReceiveMessageWaitTimeSeconds", "MessageRetentionPeriod", "RedrivePolicy")
    queue.client.create_queue(
        QueueName=diag_name, Attributes={k: v for k, v in attributes["Attributes"].items() if k in keep}
    )
    rounds = 20
    body = json.dumps({"type": TOPIC, "payload": {"n": -2, "t0": 0}})
    url = queue.url(diag_name)
    sending = receiving = 0.0
    for _ in range(rounds):  # one batch in, one batch out: the queue never holds more than 10
        started = time.perf_counter()
        queue.send_batch(diag_name, [OutgoingMessage(body=body)] * 10)
        sent = time.perf_counter()
        messages = queue.receive(diag_name, 10, 1)
        if messages:
            queue.client.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(messages)],
            )
        sending += sent - started
        receiving += time.perf_counter() - sent
    d.send_batch_ms = sending * 1000 / rounds
    d.receive_delete_ms = receiving * 1000 / rounds
    for first in range(0, events, 500):
        add_events(factory, 1_000_000 + first, min(500, events - first))
    relay = OutboxRelay(factory, NullQueue(), settings, SystemClock())
    published = passes = 0
    started = time.perf_counter()
    while True:
        result = relay.publish_once()
        if result.claimed == 0:
            break
        published += result.published
        passes += 1
    elapsed = time.perf_counter() - started
    d.relay_alone_per_s = published / elapsed if elapsed else math.nan
    d.relay_alone_pass_ms = elapsed * 1000 / max(passes, 1)
    return d


def fmt_ms(values: list[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "n/a"
    return (
        f"p50 {percentile(ordered, 50):.0f} ms, p95 {percentile(ordered, 95):.0f} ms, "
        f"p99 {percentile(ordered, 99):.0f} ms, max {ordered[-1]:.0f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    doc = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.pipeline", description=doc)
    parser.add_argument("--events", type=int, default=5000, help="events to push through")
    parser.add_argument("--batch", type=int, default=50, help="events per committed transaction")
    parser.add_argument("--rate", type=float, default=1000.0, help="target insert rate, events/s")
    parser.add_argument("--consumers", type=int, default=1, help="consumer threads (receive loops)")
    parser.add_argument(
        "--sqs-server",
        choices=["fauxqs", "subprocess", "in-process"],
        default="fauxqs",
        help="the local SQS-compatible server when BENCH_SQS_ENDPOINT_URL is not set: fauxqs "
        "(Node.js, npm-installed on first use; default), moto in a subprocess, or moto in-process",
    )
    parser.add_argument(
        "--no-diagnostics",
        dest="diagnostics",
        action="store_false",
        help="skip timing SQS calls and the relay alone after the run",
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=900.0, help="seconds to wait for the last events"
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.batch < 1 or args.rate <= 0 or args.consumers < 1:
        parser.error("--events, --batch, --rate and --consumers must be positive")
    signal.signal(signal.SIGTERM, _terminate)
    # The in-process SQS server logs every request otherwise.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    pg = devstack.find_postgres("BENCH_DATABASE_URL")
    log(f"PostgreSQL: {pg.source}")
    name = devstack.unique_database_name("bench_pipeline")
    workdir = Path(tempfile.mkdtemp(prefix="bench_pipeline_"))
    sqs: devstack.SqsEndpoint | None = None
    sqs_process: SqsProcess | None = None
    relay: Relay | None = None
    consumers: list[Consumer] = []
    engine = None
    started = last_insert = 0.0
    unpublished = -1
    published_at: dict[str, float] = {}
    sqs_source = ""
    diagnostics: Diagnostics | None = None
    try:
        url = devstack.render_url(pg.create_database(name))
        log(f"database {name} created")
        devstack.migrate(url)
        if args.sqs_server != "in-process" and not os.environ.get("BENCH_SQS_ENDPOINT_URL"):
            kind = "fauxqs" if args.sqs_server == "fauxqs" else "moto"
            sqs_process = SqsProcess(workdir / "sqs.log", kind)
            sqs_process.start()
            sqs_url, sqs_source = sqs_process.url, f"subprocess ({kind})"
        else:
            sqs = devstack.find_sqs("BENCH_SQS_ENDPOINT_URL")
            sqs_url, sqs_source = (
                sqs.url,
                f"{sqs.source} (moto)" if sqs.source == "in-process" else sqs.source,
            )
        log(f"SQS: {sqs_source} at {sqs_url}")
        prefix = f"b{uuid.uuid4().hex[:8]}-"
        settings = Settings(
            database_url=url,
            sqs_endpoint_url=sqs_url,
            queue_prefix=prefix,
            sqs_wait_time_s=1,
            environment="test",
            log_json=False,
            db_pool_size=2,
        )
        ensure_queues(make_sqs_client(settings), settings)
        queue = CATALOGUE[TOPIC].queue
        assert queue is not None
        queue_name = settings.queue_names[queue]
        engine = make_engine(settings)
        factory = make_sessionmaker(engine)

        for _ in range(args.consumers):
            consumer = Consumer(SqsQueue(make_sqs_client(settings)), queue_name)
            consumer.start()
            consumers.append(consumer)

        def snapshot() -> list[Received]:
            return [r for c in consumers for r in c.snapshot()]

        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SQS_ENDPOINT_URL": sqs_url,
            "QUEUE_PREFIX": prefix,
            "LOG_LEVEL": "WARNING",
            "OUTBOX_POLL_INTERVAL_S": "0.05",
            "PYTHONUNBUFFERED": "1",
        }
        relay = Relay(env, workdir / "relay.log")
        relay.start()
        log(f"relay started (pid {relay.process.pid if relay.process else '?'}); warming up")

        # One event around the loop first: the relay is up and every connection is open.
        add_events(factory, WARMUP_N, 1)
        if not wait_until(lambda: any(r.n == WARMUP_N for r in snapshot()), 60.0, relay.alive):
            raise RuntimeError(f"the warm-up event never arrived; relay log:\n{relay.log_tail()}")
        log(f"warm-up done; inserting {args.events:,} events, {args.batch} per commit, ~{args.rate:.0f}/s")

        interval = args.batch / args.rate
        started = time.time()
        next_at = time.monotonic()
        for first in range(0, args.events, args.batch):
            add_events(factory, first, min(args.batch, args.events - first))
            last_insert = time.time()
            next_at += interval
            pause = next_at - time.monotonic()
            if pause > 0 and first + args.batch < args.events:
                time.sleep(pause)
        log(f"inserted in {last_insert - started:.2f} s; waiting for the consumer")

        expected = set(range(args.events))
        wait_until(lambda: expected.issubset({r.n for r in snapshot()}), args.drain_timeout, relay.alive)
        time.sleep(1.5)  # one more long poll, for duplicates arriving late
        with engine.connect() as conn:
            unpublished = int(
                conn.execute(
                    text("SELECT count(*) FROM crypto.outbox WHERE published_at IS NULL")
                ).scalar_one()
            )
            rows = conn.execute(
                text(
                    "SELECT id, extract(epoch FROM published_at) FROM crypto.outbox "
                    "WHERE published_at IS NOT NULL"
                )
            )
            published_at = {f"outbox-{r[0]}": float(r[1]) for r in rows}
        if not relay.alive():
            log(f"the relay exited early; its log:\n{relay.log_tail()}")
        if args.diagnostics:
            relay.stop()
            for consumer in consumers:
                consumer.stop()
            log("diagnostics: SQS call costs, the relay alone with a no-op queue")
            diagnostics = diagnose(factory, settings, queue_name, args.events)
    finally:
        if relay is not None:
            relay.stop()
            log("relay stopped")
        for consumer in consumers:
            consumer.stop()
        if sqs is not None:
            sqs.stop()
        if sqs_process is not None:
            sqs_process.stop()
        log("SQS server stopped")
        if engine is not None:
            engine.dispose()
        pg.drop_database(name)
        log(f"database {name} dropped")
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    # --- report
    received = [r for c in consumers for r in c.snapshot() if r.n != WARMUP_N]
    received.sort(key=lambda r: r.at)
    first_seen: dict[int, Received] = {}
    for r in received:
        first_seen.setdefault(r.n, r)
    duplicates = len(received) - len(first_seen)
    missing = len(set(range(args.events)) - first_seen.keys())
    latencies = sorted((r.at - r.t0) * 1000 for r in first_seen.values())
    relay_lag = [
        (published_at[r.outbox_id] - r.t0) * 1000 for r in first_seen.values() if r.outbox_id in published_at
    ]
    queue_lag = [
        (r.at - published_at[r.outbox_id]) * 1000 for r in first_seen.values() if r.outbox_id in published_at
    ]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    last_at = max((r.at for r in first_seen.values()), default=last_insert)
    span = last_at - started
    per_s = len(first_seen) / span if span > 0 else 0.0
    insert_s = last_insert - started
    publish_span = (max(published_at.values()) - started) if published_at else math.nan

    print()
    print(
        f"Outbox pipeline: {args.events:,} events of {str(TOPIC)!r}, {args.batch} per commit; "
        f"relay `python -m batch.outbox_relay` (poll 0.05 s); SQS {sqs_source}; "
        f"{args.consumers} consumer(s), receive 10 / wait 1 s"
    )
    print(
        f"  inserted in {insert_s:.2f} s ({args.events / insert_s if insert_s else 0:,.0f}/s); "
        f"all published {publish_span:.2f} s and all received {span:.2f} s after the first insert"
    )
    print(f"  end-to-end (insert -> received): {fmt_ms(latencies)}")
    print(f"    insert -> published by the relay: {fmt_ms(relay_lag)}")
    print(f"    published -> received by a consumer: {fmt_ms(queue_lag)}")
    print(f"  throughput: {per_s:,.0f} events/s (first insert -> last receive)")
    receives = sum(c.receives for c in consumers)
    print(
        f"  received {len(first_seen):,} distinct, {duplicates} duplicates, {missing} missing; "
        f"{receives} receive calls; outbox rows still unpublished: {unpublished}"
    )
    errors = [e for c in consumers for e in c.errors]
    if errors:
        print(f"  consumer errors ({len(errors)}): {errors[:5]}")
    if diagnostics is not None:
        d = diagnostics
        print(
            f"  where the time goes: one SendMessageBatch(10) {d.send_batch_ms:.1f} ms and one "
            f"ReceiveMessage(10)+DeleteMessageBatch {d.receive_delete_ms:.1f} ms on this SQS server "
            f"(queue depth <= 10); the relay alone (same code, SQS replaced by a no-op) "
            f"{d.relay_alone_per_s:,.0f} events/s, {d.relay_alone_pass_ms:.1f} ms per pass of "
            f"up to {OUTBOX_BATCH} rows"
        )
    print(f"  target p95 <= {TARGET_P95_MS:.0f} ms: {'met' if p95 <= TARGET_P95_MS else 'MISSED'}")
    print()
    summary = {
        "events": args.events,
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "events_per_s": round(per_s, 1),
        "duplicates": duplicates,
        "missing": missing,
    }
    print(json.dumps(summary))
    return 0 if missing == 0 and duplicates == 0 and p95 <= TARGET_P95_MS else 1


if __name__ == "__main__":
    sys.exit(main())
