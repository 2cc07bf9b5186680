"""Outbox relay: `python -m batch.outbox_relay` publishes committed outbox rows to SQS,
continuously (`--once` for a single pass). Several relays may run at once: rows are
claimed with FOR UPDATE SKIP LOCKED. SIGTERM: finish the pass, then exit."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading

from batch.worker import install_signal_handlers
from myapi.container import build_container, shutdown_container
from myapi.core.logging import configure_logging
from myapi.outbox.relay import OutboxRelay

logger = logging.getLogger("batch.outbox_relay")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batch.outbox_relay", description=__doc__)
    parser.add_argument("--once", action="store_true", help="one pass, print the result, exit")
    args = parser.parse_args(argv)
    container = build_container()
    settings = container.settings()
    configure_logging(settings.log_level, settings.log_json)
    relay = OutboxRelay(container.sessionmaker(), container.queue(), settings, container.clock())
    try:
        if args.once:
            print(json.dumps(relay.publish_once().as_dict()))
            return 0
        stop = threading.Event()
        install_signal_handlers(stop)
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
    finally:
        shutdown_container(container)


if __name__ == "__main__":
    sys.exit(main())
