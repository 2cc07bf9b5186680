"""scripts/bench/dashboard.py, run tiny so it cannot rot: it builds its database (days
settled by SQL and by the app, their summaries written by the follow-up's refresh, today
open), serves the API against an SQS server and loads the dashboard; its last line is
the JSON summary, whose checks (summary rows, today's live count and the API's answer
against a brute force; queues, outbox, jobs) must all pass. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from scripts import devstack
from scripts.bench.common import ROOT

RUN_KEYS = {
    "route", "requests", "errors", "p50_ms", "p95_ms", "p99_ms", "max_ms", "over_target",
    "response_bytes", "loadavg_start", "loadavg_end",
}  # fmt: skip
RUNS = {
    "baseline_health", "baseline_users_me", "dashboard_7d", "dashboard_30d", "dashboard_history",
    "dashboard_year", "dashboard_7d_ttl0", "dashboard_30d_ttl0",
}  # fmt: skip


def test_the_dashboard_bench_runs_small_and_its_figures_check_out(postgres: devstack.Postgres) -> None:
    env = {**os.environ, "BENCH_DATABASE_URL": devstack.render_url(postgres.admin_url)}
    env.pop("BENCH_SQS_ENDPOINT_URL", None)
    command = [
        sys.executable, "-m", "scripts.bench.dashboard", "--quick", "--days", "2", "--players", "40",
        "--symbols", "3", "--today-players", "20", "--redemptions-per-day", "5", "--requests", "5",
        "--sqs-server", "moto",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert (result["days"], result["players"], result["symbols"]) == (2, 40, 3)
    assert (result["predictions_per_day"], result["history_predictions"], result["today_predictions"]) == (
        120, 240, 60,
    )  # fmt: skip
    assert result["checks_ok"] is True and all(result["checks"].values())
    assert len(result["checks"]) == 10
    assert result["errors"] == 0
    assert set(result["runs"]) == RUNS
    for name, run in result["runs"].items():
        assert set(run) == RUN_KEYS, name
        assert (run["requests"], run["errors"]) == (5, 0), name
        assert 0 < run["p50_ms"] <= run["p95_ms"] <= run["p99_ms"] <= run["max_ms"], name
    assert set(result["ratios"]) == {name for name in RUNS if name.startswith("dashboard_")}
    assert set(result["service_ms_p50"]) == {"7d", "30d"}
    assert result["settle_s_last_day"] > 0 and result["summary_refresh_s_max"] > 0
    assert set(result["targets"]) == {"p99_ms_max", "ranges", "met"}
    assert len(result["loadavg_start"]) == len(result["loadavg_end"]) == 3
