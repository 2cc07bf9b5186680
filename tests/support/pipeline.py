"""Shared set-up for pipeline tests: a container with its own queues (unique prefix),
real commits on the test database, and helpers to drive relay and workers inline."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, text

from batch.worker import Worker
from myapi.container import Container
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.db import make_engine, unit_of_work
from myapi.events.catalogue import consumed_queues
from myapi.events.relay import OutboxRelay
from myapi.providers.queue import ensure_queues, make_sqs_client
from tests.support.app import build_test_container, make_settings
from tests.support.db import truncate_all


@dataclass
class Pipeline:
    container: Container
    engine: Engine
    clock: FrozenClock

    @property
    def settings(self) -> Settings:
        return self.container.settings()

    def relay(self) -> OutboxRelay:
        relay: OutboxRelay = self.container.outbox_relay()
        return relay

    def worker(self, queue_key: str) -> Worker:
        return Worker(self.container, queue_key)

    def pump(self, rounds: int = 5) -> None:
        """Relay and drain every consumed queue until nothing moves. A relay pass that
        only marks unrouted events (a backlog of prediction events ahead of a request)
        moved something too: the relay is run until it claims nothing, each round."""
        for _ in range(rounds):
            claimed = 0
            while (passed := self.relay().publish_once().claimed) > 0:
                claimed += passed
            handled = sum(self.worker(str(key)).drain() for key in sorted(consumed_queues()))
            if not claimed and not handled:
                return

    def pump_if_sent(self) -> None:
        """Relay the whole outbox, and pump only if that sent a message. Every message
        goes through the outbox, so a pass that sent none left nothing new to drain: a
        run of idle ticks (the month of ticks: ~3,000) skips three empty SQS receives
        each, most of the time it spent."""
        sent = 0
        while (result := self.relay().publish_once()).claimed > 0:
            sent += result.published
        if sent:
            self.pump()

    def scalar(self, sql: str, **params: object) -> object:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar_one()

    def session(self):  # type: ignore[no-untyped-def]
        return unit_of_work(self.container.sessionmaker())


@contextmanager
def own_pipeline(settings: Settings, clock: FrozenClock, **overrides: object) -> Iterator[Pipeline]:
    """A pipeline on the test database with queues of its own (a unique prefix) and real
    commits; every table is emptied afterwards. `overrides`: settings of its own."""
    own = make_settings(
        settings.database_url,
        settings.sqs_endpoint_url or "",
        **{
            "queue_prefix": f"p{uuid.uuid4().hex[:8]}-",
            "sqs_max_receive_count": 3,
            "sqs_visibility_timeout_s": 30,
            "sqs_wait_time_s": 0,
            **overrides,
        },
    )
    ensure_queues(make_sqs_client(own), own)
    engine = make_engine(own)
    container = build_test_container(own, clock, engine)
    try:
        yield Pipeline(container, engine, clock)
    finally:
        container.oauth_http().close()
        container.eod_http().close()
        truncate_all(engine)
        engine.dispose()


@pytest.fixture
def pipeline(settings: Settings, clock: FrozenClock) -> Iterator[Pipeline]:
    with own_pipeline(settings, clock) as p:
        yield p
