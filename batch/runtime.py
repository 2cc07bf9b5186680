"""What every long-running batch process shares: the container, JSON logs, graceful
SIGTERM/SIGINT, and releasing the container's resources on the way out."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from myapi.container import Container, build_container, shutdown_container
from myapi.core.logging import configure_logging

logger = logging.getLogger("batch.runtime")


@dataclass(frozen=True)
class Runtime:
    container: Container
    stop: threading.Event


def install_signal_handlers(stop: threading.Event) -> None:
    def _stop(signum: int, _frame: object) -> None:
        logger.info("signal %s: finishing the work in hand, then exiting", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)


def once_flag(module: str, description: str | None, once_help: str, argv: list[str] | None) -> bool:
    """Parse the command line of a loop process that also has a one-shot `--once`."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--once", action="store_true", help=once_help)
    return bool(parser.parse_args(argv).once)


@contextmanager
def batch_process(handle_signals: bool = True) -> Iterator[Runtime]:
    container = build_container()
    settings = container.settings()
    configure_logging(settings.log_level, settings.log_json)
    stop = threading.Event()
    if handle_signals:
        install_signal_handlers(stop)
    try:
        yield Runtime(container, stop)
    finally:
        shutdown_container(container)
