"""`make run`: the whole system on embedded defaults, with no configuration.

PostgreSQL (DATABASE_URL, else 127.0.0.1:5432, else embedded) -> SQS endpoint
(SQS_ENDPOINT_URL, else in-process) -> queues ensured -> `alembic upgrade head` ->
demo data -> the pipeline processes (three workers, the outbox relay, the scheduler, with
the sandbox EOD provider) -> the API on http://127.0.0.1:8000 (docs at /docs).
Ctrl-C stops everything this command started.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from types import FrameType

import uvicorn
from sqlalchemy.engine import make_url

from myapi.core.config import Settings
from myapi.core.logging import configure_logging
from scripts import devstack
from scripts.seed import seed

DATABASE_NAME = "oxuniverse"
PIPELINE = (
    ("batch.worker", "--queue", "eod_fetch"),
    ("batch.worker", "--queue", "settlement_compute"),
    ("batch.worker", "--queue", "rewards_saga"),
    ("batch.outbox_relay",),
    ("batch.scheduler",),
)


def start_pipeline(log: logging.Logger) -> list[subprocess.Popen[bytes]]:
    procs = []
    for module, *args in PIPELINE:
        procs.append(subprocess.Popen([sys.executable, "-m", module, *args], env=os.environ.copy()))
        log.info("started %s %s (pid %d)", module, " ".join(args), procs[-1].pid)
    return procs


def stop_pipeline(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()  # SIGTERM: each finishes the message in hand
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    # SIGTERM (docker stop, kill, a supervisor) must stop the workers, the relay and the
    # scheduler too: the default handler would exit without the `finally` below, and
    # uvicorn re-raises the signal to this handler after its own graceful shutdown.
    signal.signal(signal.SIGTERM, _terminate)
    configure_logging("INFO", json_logs=False)  # the API switches to JSON lines when it starts
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the in-process SQS server
    logging.getLogger("alembic").setLevel(logging.WARNING)
    log = logging.getLogger("run_local")
    host = os.environ.get("API_HOST", "127.0.0.1")
    port = int(os.environ.get("API_PORT", "8000"))

    postgres = devstack.find_postgres("DATABASE_URL")
    sqs: devstack.SqsEndpoint | None = None
    pipeline: list[subprocess.Popen[bytes]] = []
    try:
        if postgres.source == "DATABASE_URL":
            database_url = devstack.render_url(make_url(os.environ["DATABASE_URL"]))
        else:
            database_url = devstack.render_url(postgres.create_database(DATABASE_NAME, if_missing=True))
        log.info("PostgreSQL: %s (%s)", postgres.source, make_url(database_url).database)
        sqs = devstack.find_sqs("SQS_ENDPOINT_URL", port=int(os.environ.get("SQS_PORT", "9324")))
        log.info("SQS endpoint: %s (%s)", sqs.url, sqs.source)

        # The API (and, later, workers) read the same settings from the environment.
        os.environ["DATABASE_URL"] = database_url
        os.environ["SQS_ENDPOINT_URL"] = sqs.url
        settings = Settings()

        from batch.queues import ensure

        log.info("queues ensured: %s", ", ".join(str(q["queue"]) for q in ensure(settings)))
        devstack.migrate(database_url)
        log.info("migrations applied (alembic upgrade head)")
        log.info("demo data: %s", seed(settings))
        pipeline = start_pipeline(log)

        print(
            f"\n  OX Universe player page: http://{host}:{port}/"
            f"\n  API docs:                http://{host}:{port}/docs"
            f"\n  Operators' console:      http://{host}:{port}/admin/ui/\n",
            flush=True,
        )
        uvicorn.run(
            "myapi.main:create_app", factory=True, host=host, port=port, log_level="info", server_header=False
        )
        return 0
    finally:
        stop_pipeline(pipeline)
        if sqs is not None:
            sqs.stop()
        postgres.stop()
        log.info("stopped")


if __name__ == "__main__":
    sys.exit(main())
