"""Liveness and readiness. Readiness asks each dependency the cheapest question that
proves it answers: the database a `SELECT 1`, SQS the URL of a configured queue."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine, text

from myapi.core.config import Settings
from myapi.events.catalogue import consumed_queues
from myapi.providers.queue import SqsQueue

logger = logging.getLogger("myapi.health")


@dataclass(frozen=True)
class ReadinessReport:
    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(result == "ok" for result in self.checks.values())

    @property
    def failing(self) -> list[str]:
        return [name for name, result in self.checks.items() if result != "ok"]


class ReadinessService:
    def __init__(self, engine: Engine, queue: SqsQueue, settings: Settings) -> None:
        self._engine = engine
        self._queue = queue
        self._settings = settings

    def check(self) -> ReadinessReport:
        return ReadinessReport(checks={"database": self._database(), "queue": self._queue_check()})

    def _database(self) -> str:
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return "ok"
        except Exception as exc:  # any failure means "not ready", never a 500
            logger.warning("readiness: database failed: %s", exc)
            return f"unavailable ({type(exc).__name__})"

    def _queue_check(self) -> str:
        # A queue that always exists: one some worker consumes.
        name = self._settings.queue_names[min(consumed_queues())]
        try:
            self._queue.client.get_queue_url(QueueName=name)
            return "ok"
        except Exception as exc:
            logger.warning("readiness: queue failed: %s", exc)
            return f"unavailable ({type(exc).__name__})"
