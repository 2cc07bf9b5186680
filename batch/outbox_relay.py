"""Outbox relay: `python -m batch.outbox_relay` publishes committed outbox rows to SQS,
continuously (`--once` for a single pass). Several relays may run at once: rows are
claimed with FOR UPDATE SKIP LOCKED. SIGTERM: finish the pass, then exit."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from batch.runtime import batch_process
from myapi.outbox.relay import OutboxRelay

logger = logging.getLogger("batch.outbox_relay")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batch.outbox_relay", description=__doc__)
    parser.add_argument("--once", action="store_true", help="one pass, print the result, exit")
    args = parser.parse_args(argv)
    with batch_process() as runtime:
        container, stop = runtime.container, runtime.stop
        settings = container.settings()
        relay = OutboxRelay(container.sessionmaker(), container.queue(), settings, container.clock())
        if args.once:
            print(json.dumps(relay.publish_once().as_dict()))
            return 0
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
