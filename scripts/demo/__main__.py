"""`make demo`: the whole system on one accelerated clock, with bot players, narrated.

    python -m scripts.demo [--speed 1440] [--days 7] [--bots 12] [--first-day YYYY-MM-DD] [--exit]

Everything `make run` starts (PostgreSQL, the SQS endpoint, the three workers, the outbox
relay, the scheduler, the sandbox EOD provider and reward vendor, the API) runs on one
simulated clock: every process gets the same CLOCK_START_AT, CLOCK_ANCHOR_AT and
CLOCK_SPEED, so they agree on the simulated instant. The week starts a couple of
simulated minutes after a close, so a trading day opens at once, and it includes a
holiday or an early close when the calendar has one near (scripts/demo/plan.py). Bots
play through the public API; the console narrates each step. The database is a fresh
`oxuniverse_demo` each run (simulated time runs ahead of the real clock; `make run`'s
`oxuniverse` is untouched), unless DATABASE_URL names one.

After the simulated days the summary is printed and the system keeps running (the
player page is at http://127.0.0.1:8000/) until Ctrl-C; `--exit` stops there instead,
with status 0 only if every session of the window settled, the leaderboard and a reward
were seen and the server never answered 5xx. The accelerated clock is refused in
production (the settings refuse CLOCK_START_AT/CLOCK_SPEED there; so does this script).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from types import FrameType

import httpx
from sqlalchemy.engine import make_url

from myapi.core.clock import ShiftedClock
from myapi.core.config import Settings
from myapi.core.logging import configure_logging
from myapi.cycle.calendar import MarketCalendar
from scripts import devstack
from scripts.demo.bots import Bot
from scripts.demo.client import ApiClient, Tally
from scripts.demo.narrator import Narrator
from scripts.demo.plan import DEFAULT_DAYS, DEFAULT_SPEED, DemoPlan, plan
from scripts.run_local import start_pipeline, stop_pipeline
from scripts.seed import seed

DATABASE_NAME = "oxuniverse_demo"
READY_TIMEOUT_S = 60
# Real seconds the processes get to start before the simulated clock does (DEMO_STARTUP_S).
STARTUP_S = 8.0
# Settings a minutes-long day needs (the user's environment wins). Durations the clock
# measures would otherwise pass in a blink: a 1-hour access token lasts 2.5 s at 1440x.
DEMO_DEFAULTS = {
    "ACCESS_TOKEN_TTL_S": "86400",
    "REFRESH_TOKEN_TTL_S": "7776000",
    "OAUTH_STATE_TTL_S": "3600",
    "AD_RECEIPT_MAX_AGE_S": "3600",
    "REWARD_SAGA_TIMEOUT_S": "86400",
    "CYCLE_RETRY_INTERVAL_MIN": "60",
    "BASELINE_REFRESH_INTERVAL_MIN": "30",
    "ALERT_CHECK_INTERVAL_S": "3600",
    # 2 simulated hours (5 s at 1440x): long enough to see the timer; 5 minutes would be 0.2 s.
    "COOLDOWN_MINUTES": "120",
    "SQS_WAIT_TIME_S": "2",  # a worker's receive ends within 2 s, so Ctrl-C stops the demo at once
    "LOG_LEVEL": "WARNING",  # the narration is the console; the processes say only problems
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--speed",
        type=float,
        default=float(os.environ.get("DEMO_SPEED", DEFAULT_SPEED)),
        help="simulated seconds per real second (default %(default)s: a day a minute, a week in 7)",
    )
    parser.add_argument(
        "--days",
        type=int,
        default=int(os.environ.get("DEMO_DAYS", DEFAULT_DAYS)),
        help="simulated days before the summary (default %(default)s)",
    )
    parser.add_argument(
        "--bots",
        type=int,
        default=int(os.environ.get("DEMO_BOTS", 12)),
        help="bot players (default %(default)s)",
    )
    parser.add_argument(
        "--first-day",
        type=date.fromisoformat,
        default=None,
        help="the trading day that opens first (default: chosen from the calendar)",
    )
    parser.add_argument("--exit", action="store_true", help="stop after the summary (for tests and CI)")
    parser.add_argument("--timeout", type=float, default=None, help="with --exit: give up after this many s")
    return parser.parse_args(argv)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def clock_environment(demo: DemoPlan, anchor: datetime) -> dict[str, str]:
    """The clock every process of the demo runs on, and the scheduler's real tick: about
    ten simulated minutes, so a cutoff or a close is acted on within that."""
    tick = min(max(600 / demo.speed, 0.1), 60.0)
    return {
        "CLOCK_START_AT": demo.start_at.isoformat(),
        "CLOCK_ANCHOR_AT": anchor.isoformat(),
        "CLOCK_SPEED": repr(demo.speed),
        "SCHEDULER_TICK_INTERVAL_S": f"{tick:.3f}",
    }


def wait_ready(url: str, api: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise RuntimeError(f"the API exited with status {api.returncode}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API at {url} was not ready within {READY_TIMEOUT_S} s")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    configure_logging("WARNING", json_logs=False)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the in-process SQS server
    if os.environ.get("ENVIRONMENT", "").lower() == "production":
        print(
            "make demo: refused — the accelerated clock is for development, never ENVIRONMENT=production",
            file=sys.stderr,
        )
        return 2
    log = logging.getLogger("demo")
    host = os.environ.get("API_HOST", "127.0.0.1")
    port = int(os.environ.get("API_PORT", "8000"))
    base_url = f"http://{host}:{port}"
    for name, value in DEMO_DEFAULTS.items():
        os.environ.setdefault(name, value)

    postgres = devstack.find_postgres("DATABASE_URL")
    sqs: devstack.SqsEndpoint | None = None
    procs: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        if postgres.source == "DATABASE_URL":
            database_url = devstack.render_url(make_url(os.environ["DATABASE_URL"]))
        else:
            postgres.drop_database(DATABASE_NAME)  # simulated time only moves forward: start afresh
            database_url = devstack.render_url(postgres.create_database(DATABASE_NAME))
        devstack.migrate(database_url)
        sqs = devstack.find_sqs("SQS_ENDPOINT_URL")
        os.environ["DATABASE_URL"] = database_url
        os.environ["SQS_ENDPOINT_URL"] = sqs.url

        now = datetime.now(UTC)
        demo = plan(
            MarketCalendar(now.date()), now, speed=args.speed, days=args.days, first_day=args.first_day
        )
        # The clock holds at the start until the anchor, so starting the processes (a few
        # seconds; more on a loaded machine) does not eat the first day's predicting hours.
        anchor = datetime.now(UTC) + timedelta(seconds=float(os.environ.get("DEMO_STARTUP_S", STARTUP_S)))
        os.environ.update(clock_environment(demo, anchor))
        settings = Settings()  # refuses a production environment with a demo clock, too
        clock = ShiftedClock(demo.start_at, anchor, demo.speed)

        from batch.queues import ensure

        ensure(settings)
        seeded = seed(settings)
        procs = start_pipeline(log)
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "myapi.main:create_app",
                    "--factory",
                    "--host",
                    host,
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                    "--no-server-header",
                ],
                env=os.environ.copy(),
            )
        )
        wait_ready(base_url, procs[-1])
        time.sleep(max((anchor - datetime.now(UTC)).total_seconds(), 0.0))  # the clock starts now
        started = time.monotonic()

        tally, counts = Tally(), Counter[str]()
        admin = ApiClient(
            base_url, tally, "demo.operator@demo.example.com", role="ADMIN", nickname="operator"
        )
        narrator = Narrator(admin, clock, demo, counts, started)
        print(
            f"\n  OX Universe demo: {demo.describe()}"
            f"\n  PostgreSQL {make_url(database_url).database}, SQS {sqs.url}; {args.bots} bots; "
            f"first day {seeded.session}"
            f"\n  Player page:         {base_url}/        (sign in with any email)"
            f"\n  Operators' console:  {base_url}/admin/ui/  (dev-login with role ADMIN)"
            f"\n  API docs:            {base_url}/docs\n",
            flush=True,
        )
        threads.append(threading.Thread(target=narrator.run, args=(stop,), name="narrator", daemon=True))
        for index in range(args.bots):
            bot = Bot(index, base_url, tally, counts, narrator.say, stop)
            threads.append(threading.Thread(target=bot.run, name=bot.name, daemon=True))
        for thread in threads:
            thread.start()

        while not narrator.done:
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                narrator.say(f"! a process of the system exited ({dead[0].args}); stopping")
                return 1
            if args.exit and args.timeout and time.monotonic() - started > args.timeout:
                narrator.say(
                    f"! gave up after {args.timeout:g} s: settled {sorted(narrator.progress.settled)}"
                )
                return 1
            time.sleep(0.5)
        healthy = summarize(narrator, demo, counts, tally, time.monotonic() - started, base_url)
        if args.exit:
            return 0 if healthy else 1
        narrator.say("the system keeps running on the demo clock, the bots keep playing — Ctrl-C stops it")
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        stop_pipeline(procs)
        if sqs is not None:
            sqs.stop()
        postgres.stop()


def summarize(
    narrator: Narrator,
    demo: DemoPlan,
    counts: Counter[str],
    tally: Tally,
    wall_s: float,
    base_url: str,
) -> bool:
    progress = narrator.progress
    points = sum(int(str(s["points_issued"])) for s in progress.settled.values())
    predictions = sum(
        sum(int(v) for k, v in dict(s["counts"]).items() if k != "cancelled")  # type: ignore[call-overload]
        for s in progress.settled.values()
    )
    standings = narrator.standings()
    leaders = ", ".join(
        f"{r['rank']}. {r['nickname']} {r['points']} pts ({r['wins']} wins)" for r in standings[:5]
    )
    first = progress.first_settled_wall_s or 0.0
    say = narrator.say
    say(
        f"=== {len(demo.sessions)} sessions in {(demo.end_at - demo.start_at).days} simulated days, "
        f"{int(wall_s) // 60}:{int(wall_s) % 60:02d} of wall time (first day settled after "
        f"{int(first) // 60}:{int(first) % 60:02d})"
    )
    say(
        f"=== {predictions} predictions settled, {points} points awarded, "
        f"{counts['ads_watched']} ads watched, "
        f"{counts['changes']} changes of mind, {counts['rewards_issued']} rewards issued"
    )
    say(f"=== leaderboard, all time: {leaders or 'empty'}")
    say(f"=== answers: {dict(sorted(tally.statuses.items()))}; server errors: {len(tally.server_errors)}")
    for line in tally.server_errors[:10]:
        say(f"  ! {line}")
    say(f"=== play it yourself: {base_url}/")
    return not tally.server_errors and counts["rewards_issued"] > 0 and bool(progress.leaders)


if __name__ == "__main__":
    sys.exit(main())
