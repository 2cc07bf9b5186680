"""scripts/bench/leaderboard.py, run tiny so it cannot rot: it builds its database, settles
a day, refreshes the leaderboard, serves the API and loads it; its last line is the JSON
summary, whose checks (ranks and pages against a brute force, totals and counts against
a recount) must all pass. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from scripts import devstack
from scripts.bench.common import ROOT

RUN_KEYS = {
    "route",
    "requests",
    "errors",
    "rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "loadavg_start",
    "loadavg_end",
}
RUNS = {"baseline_health", "baseline_users_me", "leaderboard_page1", "leaderboard_any_page", "leaderboard_me"}


def test_the_leaderboard_bench_runs_small_and_its_ranks_check_out(postgres: devstack.Postgres) -> None:
    env = {**os.environ, "BENCH_DATABASE_URL": devstack.render_url(postgres.admin_url)}
    command = [
        sys.executable, "-m", "scripts.bench.leaderboard", "--players", "300", "--day-players", "60",
        "--symbols", "3", "--requests", "40", "--tokens", "20", "--connections", "4", "--workers", "1",
        "--inactive-per-mille", "20",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert (result["players"], result["day_players"], result["predictions"]) == (300, 60, 180)
    assert 0 < result["inactive_players"] < 20
    assert result["ranked_week"] == 300 - result["inactive_players"]
    assert result["refresh"] == {
        "trading_day": "2026-11-24", "players": 60, "players_changed": 60, "rows_changed": 3 * 60,
    }  # fmt: skip
    assert result["checks_ok"] is True and len(result["checks"]) == 11
    assert all(result["checks"].values())
    assert result["errors"] == 0
    assert set(result["runs"]) == RUNS
    for name, run in result["runs"].items():
        assert set(run) == RUN_KEYS, name
        assert (run["requests"], run["errors"]) == (40, 0), name
        assert 0 < run["p50_ms"] <= run["p95_ms"] <= run["p99_ms"] <= run["max_ms"], name
    assert set(result["ratios"]) == RUNS - {"baseline_health", "baseline_users_me"}
    assert set(result["service_ms"]) == {"top_page1", "top_any_page", "mine"}
    for key in ("settle_s", "refresh_s", "refresh_commit_s", "refresh_baseline_s", "follow_up_s"):
        assert result[key] >= 0, key
    assert result["refresh_vs_baseline"] is None or result["refresh_vs_baseline"] > 0
    assert result["follow_up_status"] == "SUCCEEDED"
    assert set(result["targets"]) == {"reads_p99_ms_max", "refresh_s_max", "met"}
    assert len(result["loadavg_start"]) == len(result["loadavg_end"]) == 3
