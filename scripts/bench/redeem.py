"""Benchmark of redeeming points end to end: POST /v1/rewards/redeem -> outbox -> relay ->
SQS -> saga worker -> ISSUED (sandbox vendor), against the bare round trip of the same
pipeline with a no-op message.

    .venv/bin/python -m scripts.bench.redeem [--players 400] [--redemptions 800] [--workers 2]
        [--connections 8] [--rate 0] [--skus 1] [--api-workers 1] [--probe 10] [--no-baseline]

Not part of the test run. What it does, and undoes at the end (also on Ctrl-C or an error):

1. A fresh database on the local server (BENCH_DATABASE_URL, else 127.0.0.1:5432, else
   embedded), migrated to head; dropped at the end. N players with enough points for
   their share of the redemptions (bulk SQL, as tests/support/factories.py make_user:
   a SIGNUP ledger row and the balance), an access token each (minted with the app's
   codec, as scripts/bench/submit.py does), and `--skus` catalog items of the sandbox
   vendor with stock for every redemption.
2. Real processes, as the app runs them: an SQS-compatible server (fauxqs, npm-installed
   on first use, as scripts/bench/pipeline.py starts it), the API (`uvicorn --factory myapi.main:create_app`,
   rate limits too high to trigger), the relay (`python -m batch.outbox_relay`) and W
   saga workers (`python -m batch.worker --queue rewards_saga`), with the app's settings
   except LOG_LEVEL=WARNING and SQS_WAIT_TIME_S=1 (so the workers stop promptly).
3. One warm-up redemption around the loop, then `--probe` redemptions one at a time (each
   sent once the one before is final: the latency with no queue), then the measured run:
   M redemptions sent by this process from `--connections` connections (back to back, or
   at `--rate`/s), each player in turn (no two concurrent requests for one player), until
   every one is final. Throughput = ISSUED / (last issued_at - first created_at); latency
   = issued_at - created_at, both written by the app with its clock (the API's and the
   worker's). Back to back, the API accepts faster than the sagas finish, so that latency
   is mostly the wait in the queue (the created -> RESERVED part of it).
4. The baseline, with the same relay, SQS server and workers (the API idle): M
   `reward.requested` events for the redemptions just ISSUED, committed at once. Each is
   the cheapest message the saga queue carries: the worker validates it, records the job
   run, reads the redemption, finds it final and deletes the message. Throughput = M /
   (last job run finished - commit); latency = job run finished - outbox created_at.
   ratio = redemptions/s / no-op messages/s: how much of the pipeline's capacity the
   redeem request and the saga's own steps take.

CPU seconds of each part (API, relay, workers, SQS server, PostgreSQL, this process) are
read from /proc over each run and shown per redemption / message: on a shared machine
they move less than wall-clock rates. The load average is printed at the start and at
the end. The last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import BigInteger

from myapi.auth.keys import generate_private_pem
from myapi.core.config import Settings
from myapi.core.db import make_engine, make_sessionmaker, unit_of_work
from myapi.events.catalogue import Topic
from myapi.outbox.repository import OutboxRepository
from myapi.providers.queue import ensure_queues, make_sqs_client
from myapi.providers.rewards import SANDBOX_VENDOR
from myapi.rewards.repository import CatalogItem, RewardsRepository
from scripts import devstack
from scripts.bench.common import (
    ROOT,
    UvicornServer,
    loadavg,
    log,
    machine_cpu_s,
    postgres_processes,
    process_cpu_s,
    process_tree,
)
from scripts.bench.common import terminate as _terminate
from scripts.bench.pipeline import Relay, SqsProcess, percentile
from scripts.bench.submit import SIGNING_KID, mint_tokens, server_env

COST_POINTS = 100
REDEEM_PATH = "/v1/rewards/redeem"
SAGA_JOB = "rewards.saga"
FINAL = ("ISSUED", "FAILED", "CANCELLED")
# Connections per httpx.AsyncClient (scripts/bench/loadgen.py explains why several).
CONNECTIONS_PER_CLIENT = 8
OTHER_CPU_WARNING_PCT = 20.0
PARTS = ("api", "relay", "workers", "sqs", "postgres", "bench")


# --- processes ----------------------------------------------------------------------
@dataclass
class BatchProcess(Relay):
    """`python -m <args>` (the relay, a saga worker) in a session of its own; stopped as
    scripts/bench/pipeline.py stops its relay (SIGTERM: the pass or message in hand is
    finished; SIGKILL if that takes too long)."""

    name: str = "relay"
    args: list[str] = field(default_factory=lambda: ["batch.outbox_relay"])

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def pids(self) -> list[int]:
        return process_tree(self.process.pid) if self.process is not None and self.alive() else []

    def signal_stop(self) -> None:
        if self.process is not None and self.alive():
            self.process.terminate()


@dataclass
class Stack:
    """Everything started for the run, for CPU accounting and for stopping."""

    database: str
    sqs: SqsProcess
    api: UvicornServer | None = None
    relay: BatchProcess | None = None
    workers: list[BatchProcess] = field(default_factory=list)

    def pids(self) -> dict[str, list[int]]:
        return {
            "api": self.api.pids() if self.api is not None else [],
            "relay": self.relay.pids() if self.relay is not None else [],
            "workers": [pid for w in self.workers for pid in w.pids()],
            "sqs": process_tree(self.sqs.process.pid) if self.sqs.process is not None else [],
            "postgres": postgres_processes(self.database),
            "bench": [os.getpid()],
        }

    def check_alive(self) -> None:
        for process in [self.relay, *self.workers]:
            if process is not None and not process.alive():
                raise RuntimeError(f"{process.name} exited early; its log:\n{process.log_tail()}")
        if self.api is not None and (self.api.process is None or self.api.process.poll() is not None):
            raise RuntimeError(f"the API exited early; its log:\n{self.api.log_tail()}")

    def stop(self) -> None:
        for worker in self.workers:  # all told first: each finishes the message in hand
            worker.signal_stop()
        for worker in self.workers:
            worker.stop()
        if self.relay is not None:
            self.relay.stop()
        if self.api is not None:
            self.api.stop()
        self.sqs.stop()


# --- CPU accounting -----------------------------------------------------------------
@dataclass
class CpuSnapshot:
    wall: float
    machine_busy: float
    machine_total: float
    parts: dict[str, dict[int, float]]


def cpu_snapshot(stack: Stack) -> CpuSnapshot:
    busy, total, _ = machine_cpu_s()
    parts = {name: {pid: process_cpu_s(pid) for pid in pids} for name, pids in stack.pids().items()}
    return CpuSnapshot(time.perf_counter(), busy, total, parts)


@dataclass
class CpuUsage:
    wall_s: float
    seconds: dict[str, float]  # CPU seconds of each part over the window
    other_s: float  # the rest of the machine's busy time (other processes, interrupts)
    machine_pct: float  # % of all cores busy

    def pct_core(self, part: str) -> float:
        value = self.other_s if part == "other" else self.seconds[part]
        return 100 * value / max(self.wall_s, 1e-9)


def cpu_usage(before: CpuSnapshot, after: CpuSnapshot) -> CpuUsage:
    seconds = {
        name: sum(cpu - before.parts.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items())
        for name, pids in after.parts.items()
    }
    busy = after.machine_busy - before.machine_busy
    total = max(after.machine_total - before.machine_total, 1e-9)
    return CpuUsage(
        after.wall - before.wall, seconds, max(0.0, busy - sum(seconds.values())), 100 * busy / total
    )


# --- state --------------------------------------------------------------------------
@dataclass(frozen=True)
class Players:
    user_ids: list[int]
    tokens: list[str]
    skus: list[str]


def prepare(engine: Engine, settings: Settings, players: int, points: int, skus: int, stock: int) -> Players:
    """`players` players with `points` each, and the catalog items."""
    factory = make_sessionmaker(engine)
    sku_names = [f"BENCH-GIFT-{k + 1}" for k in range(skus)]
    with unit_of_work(factory) as db:
        user_ids = sorted(
            db.execute(
                text(
                    "INSERT INTO crypto.users (email, nickname, auth_provider, provider_id) "
                    "SELECT 'redeem' || g || '@bench.example', 'redeem_' || g, 'DEV', 'redeem-' || g "
                    "FROM generate_series(1, :n) AS g RETURNING id"
                ),
                {"n": players},
            ).scalars()
        )
        ids = bindparam("ids", type_=ARRAY(BigInteger))
        db.execute(
            text(
                "INSERT INTO crypto.points_ledger (user_id, delta_points, reason, ref_type, ref_id, "
                "balance_after) SELECT u, :b, 'signup_bonus', 'SIGNUP', u::text, :b FROM unnest(:ids) AS u"
            ).bindparams(ids),
            {"ids": user_ids, "b": points},
        )
        db.execute(
            text(
                "INSERT INTO crypto.point_balances (user_id, balance) SELECT u, :b FROM unnest(:ids) AS u"
            ).bindparams(ids),
            {"ids": user_ids, "b": points},
        )
        RewardsRepository(db).insert_missing_items(
            [
                CatalogItem(sku, f"Bench gift card {sku}", COST_POINTS, stock, SANDBOX_VENDOR)
                for sku in sku_names
            ]
        )
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    tokens = mint_tokens(settings, user_ids, datetime.now(UTC))
    return Players(user_ids, tokens, sku_names)


# --- the redeem requests ------------------------------------------------------------
@dataclass
class Sent:
    started: float = 0.0
    finished: float = 0.0
    redemption_ids: list[int] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    status_counts: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return len(self.redemption_ids)

    @property
    def per_s(self) -> float:
        span = self.finished - self.started
        return self.accepted / span if span > 0 else math.nan


async def _send(
    base_url: str, requests: list[tuple[str, str]], connections: int, rate: float, sent: Sent
) -> None:
    """POST each (token, sku) once from `connections` coroutines, back to back or paced
    at `rate` requests/s overall."""
    queue = iter(enumerate(requests))
    sizes = [
        min(CONNECTIONS_PER_CLIENT, connections - first)
        for first in range(0, connections, CONNECTIONS_PER_CLIENT)
    ]
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=base_url,
                    limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                    timeout=httpx.Timeout(30.0),
                )
            )
            for size in sizes
        ]
        sent.started = time.perf_counter()

        async def connection(n: int) -> None:
            client = clients[n // CONNECTIONS_PER_CLIENT]
            for i, (token, sku) in queue:
                if rate > 0:
                    await asyncio.sleep(max(0.0, sent.started + i / rate - time.perf_counter()))
                headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
                began = time.perf_counter()
                try:
                    response = await client.post(REDEEM_PATH, json={"sku": sku}, headers=headers)
                    status = str(response.status_code)
                    if response.status_code == 202:
                        sent.redemption_ids.append(int(response.json()["data"]["redemption_id"]))
                    elif len(sent.error_samples) < 5:
                        sent.error_samples.append(f"{status}: {response.text[:300]}")
                except httpx.HTTPError as exc:
                    status = f"exception:{type(exc).__name__}"
                    if len(sent.error_samples) < 5:
                        sent.error_samples.append(f"{status}: {exc}")
                sent.latencies_s.append(time.perf_counter() - began)
                sent.status_counts[status] = sent.status_counts.get(status, 0) + 1

        await asyncio.gather(*(connection(n) for n in range(connections)))
        sent.finished = time.perf_counter()


def plan(players: Players, first: int, users: int, count: int) -> list[tuple[str, str]]:
    """`count` (token, sku) requests: players `first`..`first + users - 1` in turn, the
    SKUs in turn."""
    return [(players.tokens[first + i % users], players.skus[i % len(players.skus)]) for i in range(count)]


def send_redemptions(
    base_url: str, requests: list[tuple[str, str]], connections: int, rate: float = 0.0
) -> Sent:
    sent = Sent()
    asyncio.run(_send(base_url, requests, connections, rate, sent))
    return sent


def wait_until(
    predicate: Callable[[], bool], timeout_s: float, stack: Stack, what: str, poll_s: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        stack.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


def count_final(engine: Engine, ids: list[int]) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM crypto.rewards_redemptions "
                    "WHERE id = ANY(:ids) AND status::text = ANY(:final)"
                ).bindparams(bindparam("ids", type_=ARRAY(BigInteger))),
                {"ids": ids, "final": list(FINAL)},
            ).scalar_one()
        )


def wait_final(
    engine: Engine, ids: list[int], timeout_s: float, stack: Stack, what: str, poll_s: float = 0.1
) -> None:
    wait_until(lambda: count_final(engine, ids) == len(ids), timeout_s, stack, what, poll_s)


@dataclass
class SagaResult:
    issued: int
    failed: dict[str, int]  # reason -> count, for FAILED / CANCELLED
    first_created: float
    last_issued: float
    latencies_ms: list[float]
    # Where the time went (medians, ms): created -> RESERVED (relay, SQS, worker pick-up,
    # hold and reserve), RESERVED -> ISSUED (vendor call and commit).
    to_reserved_p50_ms: float
    reserved_to_issued_p50_ms: float

    @property
    def seconds(self) -> float:
        return self.last_issued - self.first_created

    @property
    def per_s(self) -> float:
        return self.issued / self.seconds if self.seconds > 0 else math.nan


def saga_result(engine: Engine, ids: list[int]) -> SagaResult:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT status::text, failure_reason, extract(epoch FROM created_at), "
                "extract(epoch FROM reserved_at), extract(epoch FROM issued_at) "
                "FROM crypto.rewards_redemptions WHERE id = ANY(:ids)"
            ).bindparams(bindparam("ids", type_=ARRAY(BigInteger))),
            {"ids": ids},
        ).all()
    issued = [(float(r[2]), float(r[3]), float(r[4])) for r in rows if r[0] == "ISSUED"]
    failed: dict[str, int] = {}
    for r in rows:
        if r[0] != "ISSUED":
            key = f"{r[0]}: {r[1]}"
            failed[key] = failed.get(key, 0) + 1
    created = [float(r[2]) for r in rows]
    return SagaResult(
        issued=len(issued),
        failed=failed,
        first_created=min(created, default=math.nan),
        last_issued=max((i[2] for i in issued), default=math.nan),
        latencies_ms=sorted((i[2] - i[0]) * 1000 for i in issued),
        to_reserved_p50_ms=percentile(sorted((i[1] - i[0]) * 1000 for i in issued), 50),
        reserved_to_issued_p50_ms=percentile(sorted((i[2] - i[1]) * 1000 for i in issued), 50),
    )


# --- the no-op baseline -------------------------------------------------------------
def last_job_run_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT COALESCE(max(id), 0) FROM crypto.job_runs")).scalar_one())


def add_noop_events(engine: Engine, ids: list[int]) -> float:
    """One `reward.requested` event per (final) redemption, committed at once; returns
    the time written as their created_at."""
    now = datetime.now(UTC)
    with unit_of_work(make_sessionmaker(engine)) as session:
        added = OutboxRepository(session).add_from_select(
            Topic.REWARD_REQUESTED,
            "SELECT jsonb_build_object('redemption_id', r.id) AS payload, NULL::text AS group_id, "
            "'bench-noop-' || r.id AS dedup_id FROM crypto.rewards_redemptions r "
            "WHERE r.id = ANY(CAST(:ids AS bigint[])) ORDER BY r.id",
            {"ids": ids},
            now,
        )
    if added != len(ids):
        raise RuntimeError(f"{added} no-op events added, {len(ids)} expected")
    return now.timestamp()


def finished_runs(engine: Engine, after_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM crypto.job_runs WHERE id > :after AND job = :job "
                    "AND finished_at IS NOT NULL"
                ),
                {"after": after_id, "job": SAGA_JOB},
            ).scalar_one()
        )


@dataclass
class NoopResult:
    messages: int
    failed: int
    committed_at: float
    last_finished: float
    latencies_ms: list[float]

    @property
    def seconds(self) -> float:
        return self.last_finished - self.committed_at

    @property
    def per_s(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else math.nan


def noop_result(engine: Engine, after_id: int, committed_at: float) -> NoopResult:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT status, extract(epoch FROM finished_at) FROM crypto.job_runs "
                "WHERE id > :after AND job = :job AND finished_at IS NOT NULL"
            ),
            {"after": after_id, "job": SAGA_JOB},
        ).all()
    done = [float(r[1]) for r in rows]
    return NoopResult(
        messages=sum(1 for r in rows if r[0] == "SUCCEEDED"),
        failed=sum(1 for r in rows if r[0] != "SUCCEEDED"),
        committed_at=committed_at,
        last_finished=max(done, default=math.nan),
        latencies_ms=sorted((d - committed_at) * 1000 for d in done),
    )


# --- report -------------------------------------------------------------------------
def fmt_ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {percentile(values, 50):.0f} ms, p95 {percentile(values, 95):.0f} ms, "
        f"p99 {percentile(values, 99):.0f} ms, max {values[-1]:.0f} ms"
    )


def describe_cpu(usage: CpuUsage, units: int, unit: str) -> list[str]:
    per_unit = {p: 1000 * usage.seconds[p] / max(units, 1) for p in PARTS}
    lines = [
        "  cpu, % of one core: "
        + ", ".join(f"{p} {usage.pct_core(p):.0f}" for p in (*PARTS, "other"))
        + f"; machine {usage.machine_pct:.0f}% busy ({os.cpu_count()} cores)",
        f"  cpu ms per {unit}: "
        + ", ".join(f"{p} {per_unit[p]:.1f}" for p in PARTS)
        + f"; total {sum(per_unit[p] for p in PARTS):.1f}",
    ]
    if usage.pct_core("other") > OTHER_CPU_WARNING_PCT:
        lines.append(
            f"  WARNING: {usage.pct_core('other'):.0f}% of a core went to other processes (or interrupts) "
            "during the run: the machine was not quiet"
        )
    return lines


def cpu_ms_per(usage: CpuUsage, units: int) -> dict[str, float]:
    return {p: round(1000 * usage.seconds[p] / max(units, 1), 2) for p in PARTS}


# --- main ---------------------------------------------------------------------------
def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench.redeem", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--players", type=int, default=400, help="players (default 400)")
    parser.add_argument("--redemptions", type=int, default=800, help="redemptions to measure (default 800)")
    parser.add_argument("--workers", type=int, default=2, help="saga worker processes (default 2)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent redeem requests (default 8)")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="redeem requests/s overall; 0: back to back (default)"
    )
    parser.add_argument("--skus", type=int, default=1, help="catalog items redeemed in turn (default 1)")
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn workers of the API (default 1)")
    parser.add_argument(
        "--probe",
        type=int,
        default=10,
        help="redemptions sent one at a time before the run, each once the one before is final: "
        "the latency with no queue (default 10)",
    )
    parser.add_argument(
        "--no-baseline", dest="baseline", action="store_false", help="skip the no-op round trip run"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=300.0, help="seconds to wait for the last redemption"
    )
    args = parser.parse_args(argv)
    if min(args.players, args.redemptions, args.workers, args.connections, args.skus, args.api_workers) < 1:
        parser.error("--players, --redemptions, --workers, --connections, --skus, --api-workers must be >= 1")
    if args.rate < 0 or args.probe < 0:
        parser.error("--rate and --probe must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    load_start = loadavg()
    log(f"load average at start: {load_start}")
    cap = Settings().reward_monthly_cap
    per_player = -(-args.redemptions // args.players)
    if cap and per_player > cap:
        log(
            f"{args.redemptions} redemptions over {args.players} players is {per_player} each, over the "
            f"monthly cap REWARD_MONTHLY_CAP={cap}: raise --players to {-(-args.redemptions // cap)} or more"
        )
        return 2

    pg = devstack.find_postgres("BENCH_DATABASE_URL")
    database = devstack.unique_database_name("bench_redeem")
    workdir = Path(tempfile.mkdtemp(prefix="bench_redeem_"))
    stack: Stack | None = None
    engine: Engine | None = None
    created = False
    try:
        url = devstack.render_url(pg.create_database(database))
        created = True
        log(f"database {database} on {pg.source}; migrating")
        devstack.migrate(url)
        sqs = SqsProcess(workdir / "sqs.log", "fauxqs")
        stack = Stack(database, sqs)
        sqs.start()
        log(f"SQS: fauxqs at {sqs.url}")

        jwt_keys = json.dumps({SIGNING_KID: generate_private_pem()})
        prefix = f"r{uuid.uuid4().hex[:8]}-"
        settings = Settings(
            environment="development",
            database_url=url,
            sqs_endpoint_url=sqs.url,
            queue_prefix=prefix,
            jwt_private_keys=jwt_keys,
            jwt_signing_kid=SIGNING_KID,
            jwt_public_keys="",
            db_pool_size=2,
            db_max_overflow=0,
        )
        ensure_queues(make_sqs_client(settings), settings)
        db = engine = make_engine(settings)
        points = COST_POINTS * (max(per_player, cap or (1 + args.probe)) + 1)
        # The first `extra` players are the warm-up's and the probe's, within the cap too.
        extra = -(-(1 + args.probe) // cap) if cap else 1
        stock = args.redemptions + args.probe + 10
        players = prepare(engine, settings, args.players + extra, points, args.skus, stock)
        log(
            f"{args.players} players with {points} points each, {args.skus} SKU(s) of {COST_POINTS} points "
            f"with stock {stock}"
        )

        pool_size = max(4, -(-args.connections // args.api_workers))
        env = server_env(
            url,
            jwt_keys,
            pool_size,
            {
                "SQS_ENDPOINT_URL": sqs.url,
                "QUEUE_PREFIX": prefix,
                "SQS_WAIT_TIME_S": "1",
                "LOG_JSON": "false",
            },
        )
        stack.api = UvicornServer(
            "api", "myapi.main:create_app", devstack.free_port(), env, workdir / "api.log", args.api_workers
        )
        stack.api.start()
        stack.relay = BatchProcess(env, workdir / "relay.log")
        stack.relay.start()
        for n in range(args.workers):
            worker = BatchProcess(
                env,
                workdir / f"worker{n + 1}.log",
                name=f"worker {n + 1}",
                args=["batch.worker", "--queue", "rewards_saga"],
            )
            worker.start()
            stack.workers.append(worker)
        stack.api.wait_healthy()
        log(f"API ({args.api_workers} worker(s)), relay and {args.workers} saga worker(s) up; warming up")

        # One redemption around the loop (every process has its connections open), then
        # the probe: one at a time, each sent once the one before is final.
        probe_ids: list[int] = []
        for n, request in enumerate(plan(players, 0, extra, 1 + args.probe)):
            one = send_redemptions(stack.api.base_url, [request], 1)
            if one.accepted != 1:
                raise RuntimeError(f"a warm-up/probe redemption was refused: {one.error_samples}")
            wait_final(db, one.redemption_ids, 60.0, stack, "a probe redemption", 0.01)
            if n == 0:
                log(f"warm-up done; probe: {args.probe} redemptions one at a time")
            else:
                probe_ids += one.redemption_ids
            time.sleep(0.05)
        probe = saga_result(db, probe_ids) if probe_ids else None
        time.sleep(0.5)

        # --- the measured run: redeem -> ISSUED
        pace = f"at {args.rate:g}/s" if args.rate else "back to back"
        log(f"redeeming {args.redemptions} times from {args.connections} connections, {pace}")
        before = cpu_snapshot(stack)
        sent = send_redemptions(
            stack.api.base_url,
            plan(players, extra, args.players, args.redemptions),
            args.connections,
            args.rate,
        )
        log(f"{sent.accepted} accepted in {sent.finished - sent.started:.1f} s; waiting for the sagas")
        if not sent.accepted:
            raise RuntimeError(f"no redemption accepted: {sent.status_counts} {sent.error_samples}")
        wait_final(db, sent.redemption_ids, args.drain_timeout, stack, "every redemption to be final")
        saga_cpu = cpu_usage(before, cpu_snapshot(stack))
        saga = saga_result(engine, sent.redemption_ids)

        # --- the baseline: the same relay, SQS and workers, a no-op message each
        noop: NoopResult | None = None
        noop_cpu: CpuUsage | None = None
        if args.baseline:
            time.sleep(1.0)
            after_id = last_job_run_id(engine)
            log(f"baseline: {sent.accepted} no-op reward.requested events (final redemptions), at once")
            before = cpu_snapshot(stack)
            committed_at = add_noop_events(engine, sent.redemption_ids)
            wait_until(
                lambda: finished_runs(db, after_id) >= sent.accepted,
                args.drain_timeout,
                stack,
                "the no-op messages",
            )
            noop_cpu = cpu_usage(before, cpu_snapshot(stack))
            noop = noop_result(engine, after_id, committed_at)
        api_log = stack.api.log_tail(10)
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        if stack is not None:
            stack.stop()
            log("API, relay, workers and SQS server stopped")
        if engine is not None:
            engine.dispose()
        if created:
            pg.drop_database(database)
            log(f"database {database} dropped")
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    load_end = loadavg()

    # --- report
    own_cost: dict[str, float] = {}
    if noop is not None and noop_cpu is not None:
        per_redemption, per_message = cpu_ms_per(saga_cpu, saga.issued), cpu_ms_per(noop_cpu, noop.messages)
        own_cost = {p: round(per_redemption[p] - per_message[p], 2) for p in PARTS}
    post_ms = sorted(s * 1000 for s in sent.latencies_s)
    ratio = saga.per_s / noop.per_s if noop is not None and noop.per_s > 0 else math.nan
    lines = [
        "",
        f"OX Universe redeem benchmark: {args.redemptions} redemptions by {args.players} players of "
        f"{args.skus} SKU(s), sandbox vendor; API uvicorn --workers {args.api_workers}, relay, "
        f"{args.workers} saga worker(s) `batch.worker --queue rewards_saga`, fauxqs; {os.cpu_count()} cores",
        f"  load average at start {load_start}, at end {load_end}",
        "",
        f"redeem -> ISSUED ({args.connections} connections, {pace})",
        f"  POST {REDEEM_PATH}: {sent.accepted} accepted in {sent.finished - sent.started:.2f} s "
        f"({sent.per_s:.1f}/s), statuses {sent.status_counts}; request {fmt_ms(post_ms)}",
        f"  end to end: {saga.issued} ISSUED in {saga.seconds:.2f} s (first created_at -> last issued_at): "
        f"{saga.per_s:.1f} redemptions/s",
        f"  latency issued_at - created_at: {fmt_ms(saga.latencies_ms)}",
        f"    medians: created -> RESERVED {saga.to_reserved_p50_ms:.0f} ms (relay, SQS, queue wait, hold, "
        f"reserve), RESERVED -> ISSUED {saga.reserved_to_issued_p50_ms:.0f} ms (vendor call, commit)",
        *describe_cpu(saga_cpu, saga.issued, "redemption"),
    ]
    if probe is not None:
        lines.append(
            f"  with no queue ({len(probe_ids)} sent one at a time before the run): issued_at - created_at "
            f"{fmt_ms(probe.latencies_ms)}; medians created -> RESERVED {probe.to_reserved_p50_ms:.0f} ms, "
            f"RESERVED -> ISSUED {probe.reserved_to_issued_p50_ms:.0f} ms"
        )
    if saga.failed:
        lines.append(f"  NOT ISSUED: {saga.failed}")
    for sample in sent.error_samples:
        lines.append(f"  error sample {sample}")
    if noop is not None and noop_cpu is not None:
        lines += [
            "",
            "baseline: no-op reward.requested (redemption already final) -> relay -> SQS -> worker, "
            f"{noop.messages} committed at once",
            f"  {noop.messages} handled in {noop.seconds:.2f} s: {noop.per_s:.1f} messages/s"
            + (f"; {noop.failed} job runs FAILED" if noop.failed else ""),
            f"  latency job finished - committed: {fmt_ms(noop.latencies_ms)}",
            *describe_cpu(noop_cpu, noop.messages, "message"),
            "",
            "the saga's own cost (and the redeem request's), cpu ms per redemption above a no-op "
            "message: " + ", ".join(f"{p} {v:+.1f}" for p, v in own_cost.items()),
            f"ratio redemptions/s / no-op messages/s: {ratio:.3f}",
        ]
    lines.append("")
    summary: dict[str, Any] = {
        "redemptions": saga.issued,
        "not_issued": sum(saga.failed.values()),
        "seconds": round(saga.seconds, 2),
        "redemptions_per_s": round(saga.per_s, 1),
        "p50_ms": round(percentile(saga.latencies_ms, 50), 1),
        "p95_ms": round(percentile(saga.latencies_ms, 95), 1),
        "redeem_requests_per_s": round(sent.per_s, 1),
        "unqueued_p50_ms": round(percentile(probe.latencies_ms, 50), 1) if probe is not None else None,
        "unqueued_p95_ms": round(percentile(probe.latencies_ms, 95), 1) if probe is not None else None,
        "redeem_request_p50_ms": round(percentile(post_ms, 50), 1),
        "cpu_ms_per_redemption": cpu_ms_per(saga_cpu, saga.issued),
        "baseline": None
        if noop is None or noop_cpu is None
        else {
            "kind": "no-op reward.requested round trip (relay -> SQS -> worker)",
            "messages": noop.messages,
            "seconds": round(noop.seconds, 2),
            "messages_per_s": round(noop.per_s, 1),
            "p50_ms": round(percentile(noop.latencies_ms, 50), 1),
            "p95_ms": round(percentile(noop.latencies_ms, 95), 1),
            "cpu_ms_per_message": cpu_ms_per(noop_cpu, noop.messages),
        },
        "baseline_per_s": round(noop.per_s, 1) if noop is not None else None,
        "saga_own_cpu_ms": own_cost or None,
        "ratio": None if math.isnan(ratio) else round(ratio, 3),
        "loadavg_start": load_start,
        "loadavg_end": load_end,
        "workers": args.workers,
        "api_workers": args.api_workers,
        "connections": args.connections,
        "players": args.players,
    }
    if saga.issued < sent.accepted or saga.issued == 0:
        lines.append(f"API log (tail):\n{api_log}")
    print("\n".join(lines), flush=True)
    print(json.dumps(summary), flush=True)
    return 0 if saga.issued == sent.accepted and (noop is None or noop.failed == 0) else 1


if __name__ == "__main__":
    sys.exit(main())
