"""Benchmark of the submit path, `POST /v1/predictions/{symbol}`, against a floor.

    .venv/bin/python -m scripts.bench.submit [--seconds 20] [--connections 64] [--users 2000]

Not part of the test run. What it does, and undoes at the end (also on Ctrl-C or an error):

1. A fresh database on the local server (BENCH_DATABASE_URL, else 127.0.0.1:5432, else
   embedded), migrated to head; dropped at the end.
2. State through the app's own services: the 100 default tickers as the universe of
   the current trading day (by the real clock, as the server sees it) and its session
   open. If the real cutoff has passed (or would pass during the run), the session row
   is inserted with a cutoff a day away, so the accepted path is always what is
   measured. N players (bulk SQL), 100 slots each for the day, an access token each
   minted with the app's codec and a key generated for this run.
3. The API, `uvicorn --factory myapi.main:create_app --workers 2`, as a separate process
   with the rate limiter on (limits too high to trigger). The load generator
   (scripts/bench/loadgen.py, another process) sends each (player, symbol) pair once,
   with a token and a unique Idempotency-Key, from `--connections` connections.
4. The floor, scripts/bench/minimal_app.py (the prediction INSERT and one outbox row in
   one transaction, nothing else), served the same way after the API is stopped, under
   the same load on (player, symbol) pairs the first run did not use.

No SQS server is started: nothing on the submit path calls SQS (the outbox row is
published later by the relay), so SQS_ENDPOINT_URL points at an unused local port.
The last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any

from cryptography.hazmat.primitives import serialization
from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import BigInteger

from myapi.auth.keys import generate_private_pem, load_key_ring
from myapi.auth.tokens import AccessTokenCodec
from myapi.core.clock import SystemClock
from myapi.core.config import Settings
from myapi.core.db import make_engine, make_sessionmaker, unit_of_work
from myapi.core.enums import Phase, UserRole
from myapi.cycle.calendar import get_market_calendar
from myapi.cycle.repository import SessionsRepository
from myapi.cycle.service import SessionService
from myapi.universe.defaults import DEFAULT_TICKERS
from myapi.universe.service import UniverseService
from scripts import devstack
from scripts.bench.common import ROOT, UvicornServer, log

SIGNING_KID = "bench-key-1"
SLOTS_PER_PLAYER = 100
LARGE_LIMIT = "1000000000"
FULL_PATH = "/v1/predictions/{symbol}"
MINIMAL_PATH = "/bench/predictions/{symbol}"
# Above this much CPU (% of one core) used by processes outside the benchmark, say so.
OTHER_CPU_WARNING_PCT = 20.0
# Time the servers take to start and stop, on top of the two measured runs.
RUN_OVERHEAD_S = 120.0


@dataclass(frozen=True)
class Prepared:
    database: str
    trading_day: date
    session_note: str
    user_ids: list[int]
    tokens: list[str]
    symbols: list[str]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench.submit", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per run (default 20)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default 64)")
    parser.add_argument("--users", type=int, default=2000, help="players (default 2000)")
    parser.add_argument(
        "--connections-per-client",
        type=int,
        default=8,
        help="connections per httpx.AsyncClient; the load generator shards --connections over "
        "several clients because one client's pool costs O(pool size) CPU per request (default 8)",
    )
    parser.add_argument(
        "--client-ips",
        choices=("one", "per-user"),
        default="one",
        help="'one': every request from 127.0.0.1, so all share the rate limiter's per-IP counter "
        "(default); 'per-user': X-Forwarded-For gives each player an address of their own",
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="uncounted seconds before each run")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the order of (player, symbol) pairs")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0:
        parser.error("--seconds must be > 0 and --warmup >= 0")
    if min(args.connections, args.connections_per_client, args.users, args.workers) < 1:
        parser.error("--connections, --connections-per-client, --users and --workers must be at least 1")
    return args


# --- state ----------------------------------------------------------------------------
def _open_session(db: Any, settings: Settings, day: date, now: datetime, budget: timedelta) -> str:
    """Open the day's session through the app; past the real cutoff (or if it would pass
    within `budget`), insert a session row whose cutoff is a day away instead."""
    clock, calendar = SystemClock(), get_market_calendar()
    times = calendar.session_times(day, settings.predict_cutoff_margin_min)
    if now + budget >= times.market_close:
        # After the close the server's "current trading day" is the next one, which has
        # no session here: every submit would answer PRED_001.
        raise RuntimeError(
            f"trading day {day} ends at {times.market_close:%H:%M} UTC, before this run would finish; "
            "run the benchmark after that"
        )
    if now + budget < times.predict_cutoff:
        SessionService(db, clock, settings, calendar).open(day)
        return f"opened by SessionService.open (cutoff {times.predict_cutoff:%Y-%m-%d %H:%M} UTC)"
    SessionsRepository(db).insert_if_absent(
        {
            "trading_day": day,
            "phase": Phase.PREDICT,
            "predict_open_at": now - timedelta(minutes=1),
            "predict_cutoff_at": now + timedelta(days=1),
            "market_open_at": times.market_open,
            "market_close_at": times.market_close,
            "updated_at": now,
        }
    )
    return (
        f"real cutoff {times.predict_cutoff:%H:%M} UTC is past (or too near): "
        f"session row inserted with cutoff {now + timedelta(days=1):%Y-%m-%d %H:%M} UTC"
    )


def mint_tokens(settings: Settings, user_ids: list[int], now: datetime) -> list[str]:
    """An access token per player, from the app's codec and key ring. The signing PEM is
    parsed once up front: python-jose parses the PEM string on every `jwt.encode`, and
    cryptography validates an RSA private key on each parse (~40 ms here), which would
    make minting 2000 tokens take over a minute. Claims, header and signature are the
    codec's own."""
    ring = load_key_ring(settings)
    parsed = serialization.load_pem_private_key(ring.signing_pem.encode(), password=None)
    codec = AccessTokenCodec(dataclasses.replace(ring, signing_pem=parsed), settings)  # type: ignore[arg-type]
    return [codec.issue(uid, UserRole.USER, now).token for uid in user_ids]


def prepare(engine: Engine, settings: Settings, users: int, budget: timedelta) -> Prepared:
    clock, calendar = SystemClock(), get_market_calendar()
    now = clock.now()
    day = calendar.trading_day_for(now)
    symbols = list(DEFAULT_TICKERS)
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as db:
        previous = calendar.previous_trading_day(day)
        db.execute(
            text(
                "INSERT INTO crypto.eod_prices (asof, symbol, vendor_rev, close_price, provider) "
                "VALUES (:d, :s, 0, :c, 'sandbox')"
            ),
            [{"d": previous, "s": s, "c": Decimal(f"{100 + i}.125000")} for i, s in enumerate(symbols)],
        )
        UniverseService(db, clock, settings, calendar).upsert(day, symbols, actor="bench")
        note = _open_session(db, settings, day, now, budget)
        user_ids = sorted(
            db.execute(
                text(
                    "INSERT INTO crypto.users (email, nickname, auth_provider, provider_id) "
                    "SELECT 'bench' || g || '@bench.example', 'bench_' || g, 'DEV', 'bench-' || g "
                    "FROM generate_series(1, :n) AS g RETURNING id"
                ),
                {"n": users},
            ).scalars()
        )
        db.execute(
            text(
                "INSERT INTO crypto.user_limits (user_id, trading_day, base_slots) "
                "SELECT u, :day, :slots FROM unnest(:ids) AS u"
            ).bindparams(bindparam("ids", type_=ARRAY(BigInteger))),
            {"ids": user_ids, "day": day, "slots": SLOTS_PER_PLAYER},
        )
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    tokens = mint_tokens(settings, user_ids, now)
    return Prepared(str(engine.url.database), day, note, user_ids, tokens, symbols)


def _table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: int(conn.execute(text(f"SELECT count(*) FROM crypto.{table}")).scalar_one())
            for table in ("predictions", "outbox", "idempotency_keys", "rate_limits")
        }


# --- runs -----------------------------------------------------------------------------
def run_load(
    workdir: Path,
    name: str,
    server: UvicornServer,
    prepared: Prepared,
    pairs: list[int],
    path: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    assert server.process is not None
    spec = {
        "base_url": server.base_url,
        "database": prepared.database,
        "server_pid": server.process.pid,
        "path": path,
        "send_user_header": path == MINIMAL_PATH,
        "symbols": prepared.symbols,
        "tokens": prepared.tokens,
        "user_ids": prepared.user_ids,
        "pairs": pairs,
        "connections": args.connections,
        "connections_per_client": args.connections_per_client,
        "forwarded_for": args.client_ips == "per-user",
        "seconds": args.seconds,
        "warmup_s": args.warmup,
    }
    spec_path, result_path = workdir / f"{name}-spec.json", workdir / f"{name}-result.json"
    spec_path.write_text(json.dumps(spec))
    command = [sys.executable, "-m", "scripts.bench.loadgen", str(spec_path), str(result_path)]
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
    try:
        code = process.wait(timeout=args.warmup + args.seconds + 120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if code != 0:
        raise RuntimeError(f"load generator for {name} exited with {code}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    return result


def server_env(database_url: str, jwt_keys: str, pool_size: int, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ENVIRONMENT": "development",
            "DATABASE_URL": database_url,
            "JWT_PRIVATE_KEYS": jwt_keys,
            "JWT_SIGNING_KID": SIGNING_KID,
            "JWT_PUBLIC_KEYS": "",
            "LOG_LEVEL": "WARNING",
            "DB_POOL_SIZE": str(pool_size),
            # One connection per concurrent request of a worker (connections / workers),
            # no overflow: no connection opened and closed per request (a new backend
            # each time) and within PostgreSQL's default max_connections (100).
            "DB_MAX_OVERFLOW": "0",
            # The day's slot cap is base + max ads: room for every pair a player is sent.
            "BASE_PREDICTION_SLOTS": str(SLOTS_PER_PLAYER),
            "RATE_LIMIT_ENABLED": "true",
            "RATE_LIMIT_READ": LARGE_LIMIT,
            "RATE_LIMIT_WRITE": LARGE_LIMIT,
            "RATE_LIMIT_AUTH": LARGE_LIMIT,
            "RATE_LIMIT_IP": LARGE_LIMIT,
            # Nothing on the submit path calls SQS; an unused port, no server.
            "SQS_ENDPOINT_URL": f"http://127.0.0.1:{devstack.free_port()}",
            "BENCH_MINIMAL_ENDPOINT": "1",
            # uvicorn's default: X-Forwarded-For is trusted from the load generator only.
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def serve_and_load(
    workdir: Path,
    name: str,
    app: str,
    env: dict[str, str],
    prepared: Prepared,
    pairs: list[int],
    path: str,
    args: argparse.Namespace,
    servers: list[UvicornServer],
) -> dict[str, Any]:
    server = UvicornServer(name, app, devstack.free_port(), env, workdir / f"{name}-server.log", args.workers)
    servers.append(server)
    log(f"{name}: starting {app} on port {server.port} ({args.workers} workers)")
    server.start()
    server.wait_healthy()
    log(f"{name}: {args.warmup:g} s warm-up + {args.seconds:g} s at {args.connections} connections")
    try:
        return run_load(workdir, name, server, prepared, pairs, path, args)
    except Exception:
        log(f"{name} server log (tail):\n{server.log_tail(20)}")
        raise
    finally:
        server.stop()
        servers.remove(server)


# --- report ---------------------------------------------------------------------------
def _describe(label: str, route: str, result: dict[str, Any]) -> list[str]:
    lat, cpu = result["latency_ms"], result["cpu"]
    lines = [
        f"{label}  {route}",
        f"  throughput   {result['rps']:8.1f} accepted/s   "
        f"({result['ok']} accepted in {result['window_s']:.1f} s)",
        f"  latency ms   p50 {lat['p50']:.1f}   p90 {lat['p90']:.1f}   p95 {lat['p95']:.1f}   "
        f"p99 {lat['p99']:.1f}   max {lat['max']:.1f}   mean {lat['mean']:.1f}",
        f"  errors       {result['errors']}"
        + (f"  by status {result['status_counts']}" if result["errors"] else ""),
        f"  cpu          % of one core: api {cpu['server_pct_core']:.0f}, "
        f"postgres {cpu['postgres_pct_core']:.0f}, load generator {cpu['loadgen_pct_core']:.0f}, "
        f"kernel interrupts {cpu.get('interrupts_pct_core', 0.0):.0f}, "
        f"other {cpu['other_pct_core']:.0f}; machine {cpu['machine_pct_of_all_cores']:.0f}% busy "
        f"({cpu['cores']} cores)",
    ]
    if result["rps"] > 0:
        per_request = {key: cpu[f"{key}_pct_core"] * 10 / result["rps"] for key in ("server", "postgres")}
        lines.append(
            f"  cpu/request  api {per_request['server']:.1f} ms, postgres {per_request['postgres']:.1f} ms"
        )
    if cpu["other_pct_core"] > OTHER_CPU_WARNING_PCT:
        lines.append(
            f"  WARNING: {cpu['other_pct_core']:.0f}% of a core went to other processes during the run; "
            "the figures are not from a quiet machine"
        )
    for sample in result["error_samples"]:
        lines.append(f"  error sample {sample['status']}: {sample['body']}")
    if result["pairs_exhausted"]:
        lines.append("  NOTE: ran out of (player, symbol) pairs before the end; raise --users")
    return lines


def report(
    args: argparse.Namespace,
    database: str,
    source: str,
    prepared: Prepared,
    full: dict[str, Any],
    minimal: dict[str, Any],
    counts: dict[str, dict[str, int]],
) -> tuple[list[str], dict[str, Any]]:
    ratio = full["rps"] / minimal["rps"] if minimal["rps"] else 0.0
    lines = [
        "",
        "OX Universe submit benchmark",
        f"  database     {database} on {source} (dropped at the end)",
        f"  trading day  {prepared.trading_day}: {prepared.session_note}",
        f"  state        {len(prepared.user_ids)} players x {len(prepared.symbols)} symbols, "
        f"{SLOTS_PER_PLAYER} slots each; each (player, symbol) pair sent once",
        f"  load         {args.connections} connections ({full['clients']} httpx clients), "
        f"client IPs: {args.client_ips}, {args.warmup:g} s warm-up + {args.seconds:g} s "
        f"measured per run; uvicorn --workers {args.workers}; {os.cpu_count()} cores shared by all",
        "",
        *_describe("full path", "POST /v1/predictions/{symbol} (auth, rate limit, idempotency, slots)", full),
        f"  rows after   {counts['full']}",
        "",
        *_describe(
            "minimal   ", "POST /bench/predictions/{symbol} (INSERT prediction + outbox only)", minimal
        ),
        f"  rows after   {counts['minimal']}",
        "",
        f"ratio full/minimal throughput: {ratio:.3f}",
    ]
    return lines, {
        "full_rps": round(full["rps"], 1),
        "full_p50_ms": round(full["latency_ms"]["p50"], 2),
        "full_p95_ms": round(full["latency_ms"]["p95"], 2),
        "full_p99_ms": round(full["latency_ms"]["p99"], 2),
        "full_errors": full["errors"],
        "minimal_rps": round(minimal["rps"], 1),
        "minimal_p50_ms": round(minimal["latency_ms"]["p50"], 2),
        "minimal_p99_ms": round(minimal["latency_ms"]["p99"], 2),
        "ratio": round(ratio, 3),
    }


# --- main -----------------------------------------------------------------------------
def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    postgres = devstack.find_postgres("BENCH_DATABASE_URL")
    database = devstack.unique_database_name("oxu_bench")
    workdir = Path(tempfile.mkdtemp(prefix="oxu-bench-"))
    servers: list[UvicornServer] = []
    engine: Engine | None = None
    created = False
    try:
        database_url = devstack.render_url(postgres.create_database(database))
        created = True
        log(f"database {database} on {postgres.source}; migrating")
        devstack.migrate(database_url)

        jwt_keys = json.dumps({SIGNING_KID: generate_private_pem()})
        settings = Settings(
            environment="development",
            database_url=database_url,
            jwt_private_keys=jwt_keys,
            jwt_signing_kid=SIGNING_KID,
            jwt_public_keys="",
            db_pool_size=2,
            db_max_overflow=0,
        )
        engine = make_engine(settings)
        started = time.perf_counter()
        budget = timedelta(seconds=2 * (args.warmup + args.seconds) + RUN_OVERHEAD_S)
        prepared = prepare(engine, settings, args.users, budget)
        log(
            f"prepared trading day {prepared.trading_day} ({prepared.session_note}); "
            f"{len(prepared.user_ids)} players and tokens in {time.perf_counter() - started:.1f} s"
        )

        # Every pair once, in random order; the two runs take disjoint halves.
        pairs = list(range(len(prepared.user_ids) * len(prepared.symbols)))
        random.Random(args.seed).shuffle(pairs)
        half = len(pairs) // 2
        pool_size = max(4, -(-args.connections // args.workers))  # concurrent requests per worker
        env = server_env(
            database_url, jwt_keys, pool_size, {"BENCH_TRADING_DAY": prepared.trading_day.isoformat()}
        )

        counts: dict[str, dict[str, int]] = {}
        full = serve_and_load(
            workdir, "full", "myapi.main:create_app", env, prepared, pairs[:half], FULL_PATH, args, servers
        )
        counts["full"] = _table_counts(engine)
        minimal = serve_and_load(
            workdir,
            "minimal",
            "scripts.bench.minimal_app:create_minimal_app",
            env,
            prepared,
            pairs[half:],
            MINIMAL_PATH,
            args,
            servers,
        )
        counts["minimal"] = _table_counts(engine)
        lines, summary = report(args, database, postgres.source, prepared, full, minimal, counts)
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        for server in list(servers):
            server.stop()
        if engine is not None:
            engine.dispose()
        if created:
            postgres.drop_database(database)
            log(f"database {database} dropped")
        postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    # Printed once everything is stopped and dropped, so the JSON line is the last line.
    print("\n".join(lines), flush=True)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
