"""Alert tests: a container with queues of its own (a unique prefix, so no other test's
dead letters show up here), real commits on the test database, and the alert sink
pointed at a local webhook."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Engine, text

from myapi.alerts.service import AlertService
from myapi.container import Container
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.db import make_engine, unit_of_work
from myapi.events.catalogue import consumed_queues
from myapi.jobs.definitions import Jobs
from myapi.providers.queue import ensure_queues, make_sqs_client
from tests.support.app import build_test_container, make_settings
from tests.support.db import truncate_all
from tests.support.fake_webhook import FakeWebhook, fake_webhook_settings, wire_fake_webhook
from tests.support.fake_webhook import fake_webhook_server as fake_webhook_server  # noqa: F401 (fixture)


@dataclass
class Alerting:
    container: Container
    engine: Engine
    clock: FrozenClock
    webhook: FakeWebhook
    sleeps: list[float] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.container.settings()

    def jobs(self) -> Jobs:
        jobs: Jobs = self.container.jobs()
        return jobs

    def service(self) -> AlertService:
        service: AlertService = self.container.alert_service()
        return service

    def session(self):  # type: ignore[no-untyped-def]
        return unit_of_work(self.container.sessionmaker())

    def scalar(self, sql: str, **params: object) -> object:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar_one()

    def row(self, key: str) -> dict[str, object]:
        with self.engine.connect() as conn:
            found = conn.execute(text("SELECT * FROM crypto.admin_alerts WHERE key = :k"), {"k": key}).one()
        return dict(found._mapping)


@pytest.fixture
def alert_overrides() -> dict[str, object]:
    """Settings beyond the defaults (a test parametrizes this name to change them)."""
    return {}


@pytest.fixture
def alerting(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    fake_webhook_server: FakeWebhook,
    alert_overrides: dict[str, object],
) -> Iterator[Alerting]:
    webhook = fake_webhook_server
    webhook.reset()
    own = make_settings(
        settings.database_url,
        settings.sqs_endpoint_url or "",
        queue_prefix=f"a{uuid.uuid4().hex[:8]}-",
        sqs_max_receive_count=2,
        sqs_wait_time_s=0,
        alert_check_interval_s=Settings.model_fields["alert_check_interval_s"].default,
        **alert_overrides,
    )
    own = fake_webhook_settings(own, webhook)
    ensure_queues(make_sqs_client(own), own, consumed_queues())
    own_engine = make_engine(own)
    container = build_test_container(own, clock, own_engine)
    env = Alerting(container, own_engine, clock, webhook)
    wire_fake_webhook(container, own, env.sleeps.append)
    yield env
    container.alert_http().close()
    container.oauth_http().close()
    container.eod_http().close()
    own_engine.dispose()
    truncate_all(engine)  # the run's engine: `own` may have a short statement timeout
