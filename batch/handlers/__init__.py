"""Message handlers, one module per queue. A handler takes the container and the
message payload, runs its use case in its own unit(s) of work, and returns details for
the log. Every handler is idempotent: SQS delivers at least once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batch.handlers import eod_fetch, settlement_compute
from myapi.container import Container

Handler = Callable[[Container, dict[str, Any]], dict[str, Any]]

# Message type -> handler, and which queue (Settings.queue_names key) serves it.
HANDLERS: dict[str, Handler] = {
    "eod.fetch.requested": eod_fetch.handle_fetch_requested,
    "settlement.requested": settlement_compute.handle_settlement_requested,
    "cycle.tick": settlement_compute.handle_cycle_tick,
}
QUEUE_TYPES: dict[str, frozenset[str]] = {
    "eod_fetch": frozenset({"eod.fetch.requested"}),
    "settlement_compute": frozenset({"settlement.requested", "cycle.tick"}),
}
