"""The load generator of scripts/bench/submit.py, run as a process of its own:

    python -m scripts.bench.loadgen SPEC.json RESULT.json

SPEC names the server, the route, the players and the (player, symbol) pairs to send,
in order; each pair is sent once. `connections` coroutines send back to back, each
holding at most one connection: a warm-up that is not counted, then the measured window.
Requests finishing inside the window are counted; the result (throughput, latency
percentiles, errors, CPU use during the window) goes to RESULT.

The connections are spread over several httpx.AsyncClient objects of
`connections_per_client` each (their limits add up to `connections`): httpcore's pool
scans all its connections on every request start and finish (encode/httpx#3215), so
one client with 64 connections costs about 4-5 ms of CPU per request here, against
about 1 ms with 8 clients of 8, and the load generator, not the server, would be
measured.

With `forwarded_for`, each player's requests carry X-Forwarded-For with an address of
their own (uvicorn trusts it from 127.0.0.1 by default), as if every player came from
a different IP; otherwise all requests come from 127.0.0.1, like players behind one
NAT or a proxy whose forwarded headers are not trusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from scripts.bench.common import machine_cpu_s, postgres_processes, process_cpu_s, process_tree

MAX_ERROR_SAMPLES = 5


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _cpu_snapshot(server_pid: int, database: str) -> dict[str, Any]:
    busy, total, interrupts = machine_cpu_s()
    return {
        "wall": time.perf_counter(),
        "machine_busy": busy,
        "machine_total": total,
        "interrupts": interrupts,
        "loadgen": time.process_time(),
        "server": sum(process_cpu_s(pid) for pid in process_tree(server_pid)),
        "postgres": {pid: process_cpu_s(pid) for pid in postgres_processes(database)},
    }


def _cpu_usage(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """Percent of one core over the window: the load generator, the API processes,
    PostgreSQL (the bench database's backends and the server's auxiliary processes), the
    kernel's interrupt time (loopback networking), and everything else on the machine."""
    wall = max(after["wall"] - before["wall"], 1e-9)
    total = max(after["machine_total"] - before["machine_total"], 1e-9)
    busy = after["machine_busy"] - before["machine_busy"]
    loadgen = after["loadgen"] - before["loadgen"]
    server = after["server"] - before["server"]
    postgres = sum(cpu - before["postgres"].get(pid, 0.0) for pid, cpu in after["postgres"].items())
    interrupts = after["interrupts"] - before["interrupts"]
    return {
        "machine_pct_of_all_cores": 100 * busy / total,
        "cores": os.cpu_count() or 1,
        "loadgen_pct_core": 100 * loadgen / wall,
        "server_pct_core": 100 * server / wall,
        "postgres_pct_core": 100 * postgres / wall,
        "interrupts_pct_core": 100 * interrupts / wall,
        "other_pct_core": max(0.0, 100 * (busy - loadgen - server - postgres - interrupts) / wall),
    }


async def run_load(spec: dict[str, Any]) -> dict[str, Any]:
    symbols: list[str] = spec["symbols"]
    tokens: list[str] = spec["tokens"]
    user_ids: list[int] = spec["user_ids"]
    path: str = spec["path"]
    send_user_header: bool = spec["send_user_header"]
    forwarded_for: bool = spec["forwarded_for"]
    connections: int = spec["connections"]
    pairs = iter(spec["pairs"])
    n_symbols = len(symbols)

    latencies: list[float] = []
    status_counts: dict[str, int] = {}
    samples: list[dict[str, Any]] = []
    sent = 0
    last_done = 0.0

    per_client = spec["connections_per_client"]
    sizes = [min(per_client, connections - first) for first in range(0, connections, per_client)]
    timeout = httpx.Timeout(30.0)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=spec["base_url"],
                    limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                    timeout=timeout,
                )
            )
            for size in sizes
        ]
        start = time.perf_counter()
        measure_from = start + spec["warmup_s"]
        deadline = measure_from + spec["seconds"]

        async def worker(seed: int) -> None:
            nonlocal sent, last_done
            rng = random.Random(seed)
            client = clients[seed // per_client]
            for code in pairs:
                if time.perf_counter() >= deadline:
                    return
                user, symbol = divmod(code, n_symbols)
                headers = {"Authorization": f"Bearer {tokens[user]}", "Idempotency-Key": uuid.uuid4().hex}
                if send_user_header:
                    headers["X-User-Id"] = str(user_ids[user])
                if forwarded_for:
                    headers["X-Forwarded-For"] = f"10.{user >> 16 & 255}.{user >> 8 & 255}.{user & 255}"
                body = {"choice": "UP" if rng.random() < 0.5 else "DOWN"}
                sent += 1
                began = time.perf_counter()
                try:
                    response = await client.post(
                        path.format(symbol=symbols[symbol]), json=body, headers=headers
                    )
                    status = str(response.status_code)
                    text = response.text if response.status_code != 202 else ""
                except httpx.HTTPError as exc:
                    status, text = f"exception:{type(exc).__name__}", str(exc)
                done = time.perf_counter()
                if measure_from <= done < deadline:
                    latencies.append(done - began)
                    status_counts[status] = status_counts.get(status, 0) + 1
                    last_done = max(last_done, done)
                    if status != "202" and len(samples) < MAX_ERROR_SAMPLES:
                        samples.append({"status": status, "body": text[:300]})

        all_done = asyncio.gather(*(worker(i) for i in range(connections)))
        await asyncio.wait([all_done], timeout=max(0.0, measure_from - time.perf_counter()))
        before = _cpu_snapshot(spec["server_pid"], spec["database"])
        await asyncio.wait([all_done], timeout=max(0.0, deadline - time.perf_counter()))
        after = _cpu_snapshot(spec["server_pid"], spec["database"])
        exhausted = all_done.done() and time.perf_counter() < deadline
        await all_done

    window = (min(deadline, last_done) if exhausted else deadline) - measure_from
    window = max(window, 1e-9)
    latencies.sort()
    ok = status_counts.get("202", 0)
    completed = sum(status_counts.values())
    return {
        "clients": len(clients),
        "window_s": window,
        "sent": sent,
        "completed": completed,
        "ok": ok,
        "errors": completed - ok,
        "status_counts": status_counts,
        "error_samples": samples,
        "pairs_exhausted": exhausted,
        "rps": ok / window,
        "rps_all": completed / window,
        "latency_ms": {
            "p50": 1000 * percentile(latencies, 50),
            "p90": 1000 * percentile(latencies, 90),
            "p95": 1000 * percentile(latencies, 95),
            "p99": 1000 * percentile(latencies, 99),
            "max": 1000 * (latencies[-1] if latencies else 0.0),
            "mean": 1000 * (sum(latencies) / len(latencies) if latencies else 0.0),
        },
        "cpu": _cpu_usage(before, after),
    }


def main(argv: list[str]) -> int:
    # The parent stops this process; a Ctrl-C in the terminal is the parent's to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    spec_path, result_path = Path(argv[0]), Path(argv[1])
    spec = json.loads(spec_path.read_text())
    result = asyncio.run(run_load(spec))
    result_path.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
