"""Real batch processes for crash tests: `python -m <module>` on a pipeline's database
and queues with a shifted clock, started, SIGKILLed and restarted by the test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from scripts.devstack import ROOT
from tests.support.pipeline import Pipeline


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def spawn(
    module: str,
    p: Pipeline,
    *args: str,
    sqs_url: str | None = None,
    at: datetime | None = None,
    visibility_s: int = 3,
    **env: str,
) -> subprocess.Popen[bytes]:
    """`python -m module` on the pipeline's database and queues. Its clock reads `at`
    (default: the pipeline's frozen clock, now) at the moment of the spawn and then runs
    in real time: the anchor is the parent's real now, not the child's start-up. A
    short visibility timeout brings a killed worker's message back within seconds;
    `env` adds or overrides variables."""
    start = at or p.clock.now()
    environment = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": p.settings.database_url,
        "SQS_ENDPOINT_URL": sqs_url or p.settings.sqs_endpoint_url or "",
        "QUEUE_PREFIX": p.settings.queue_prefix,
        "SQS_WAIT_TIME_S": "1",
        "SQS_VISIBILITY_TIMEOUT_S": str(visibility_s),
        "SQS_MAX_RECEIVE_COUNT": "5",
        "LOG_LEVEL": "WARNING",
        "OUTBOX_POLL_INTERVAL_S": "0.05",
        "CLOCK_START_AT": start.isoformat(),
        "CLOCK_ANCHOR_AT": datetime.now(UTC).isoformat(),
        "CLOCK_SPEED": "1",
        # As the pipeline's own settings (the test settings turn the move rule off).
        "CORPORATE_ACTION_MAX_MOVE": str(p.settings.corporate_action_max_move),
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; any still running at the end is killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()
