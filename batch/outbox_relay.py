"""Outbox relay: `python -m batch.outbox_relay` publishes committed outbox rows to SQS,
continuously (`--once` for a single pass). Several relays may run at once: rows are
claimed with FOR UPDATE SKIP LOCKED. SIGTERM: finish the pass, then exit.

The continuous loop is a process, not a job: its passes (several a second) are not
recorded in job_runs. `--once` runs the recorded job (`outbox.publish`), as
POST /internal/outbox/publish does."""

from __future__ import annotations

import json
import logging
import sys

from batch.runtime import batch_process, once_flag

logger = logging.getLogger("batch.outbox_relay")


def main(argv: list[str] | None = None) -> int:
    once = once_flag("batch.outbox_relay", __doc__, "one pass, print the result, exit", argv)
    with batch_process() as runtime:
        container, stop = runtime.container, runtime.stop
        settings = container.settings()
        if once:
            print(json.dumps(container.jobs().publish_outbox().details))
            return 0
        relay = container.outbox_relay()
        logger.info("outbox relay started")
        while not stop.is_set():
            try:
                result = relay.publish_once()
            except Exception:
                logger.exception("relay pass failed")
                stop.wait(2.0)
                continue
            if result.claimed == 0:
                stop.wait(settings.outbox_poll_interval_s)
        return 0


if __name__ == "__main__":
    sys.exit(main())
