"""/internal/outbox/publish: one relay pass, on the pipeline's queues and on the live app."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.db import unit_of_work
from myapi.outbox.repository import OutboxRepository
from myapi.providers.queue import SqsQueue
from tests.support.http import internal
from tests.support.pipeline import Pipeline


def test_outbox_publish_relays_due_rows(pipeline: Pipeline, pipeline_client: TestClient) -> None:
    p = pipeline
    with p.session() as s:
        repo = OutboxRepository(s)
        for i in range(3):
            repo.add("settlement.requested", {"trading_day": "2026-11-23", "n": i}, now=p.clock.now())
    r = pipeline_client.post("/internal/outbox/publish", headers=internal(p.settings))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["job"] == "outbox.publish" and data["status"] == "SUCCEEDED"
    assert (data["details"]["claimed"], data["details"]["published"], data["details"]["failed"]) == (3, 3, 0)
    assert p.scalar("SELECT count(*) FROM crypto.outbox WHERE published_at IS NULL") == 0
    again = pipeline_client.post("/internal/outbox/publish", headers=internal(p.settings)).json()["data"]
    assert (again["details"]["claimed"], again["details"]["published"]) == (0, 0)
    # Every internal step is a recorded job run.
    assert p.scalar("SELECT count(*) FROM crypto.job_runs WHERE job = 'outbox.publish'") == 2
    assert pipeline_client.post("/internal/outbox/publish").status_code == 401


def test_outbox_publish_on_the_live_app(
    live_client: TestClient, live_engine: Engine, settings: Settings, clock: FrozenClock, queue: SqsQueue
) -> None:
    with unit_of_work(sessionmaker(bind=live_engine)) as s:
        OutboxRepository(s).add(
            "settlement.requested", {"trading_day": "2026-11-23", "live": True}, now=clock.now()
        )
    r = live_client.post("/internal/outbox/publish", headers=internal(settings))
    assert r.status_code == 200, r.text
    data = r.json()["data"]["details"]
    assert (data["claimed"], data["published"], data["failed"]) == (1, 1, 0)
    # Take our message off the shared "test-" queue again.
    name = settings.queue_names["settlement_compute"]
    bodies = []
    for _ in range(10):
        batch = queue.receive(name, 10, 0)
        for message in batch:
            bodies.append(json.loads(message.body))
            queue.delete(name, message.receipt_handle)
        if any(b["payload"].get("live") for b in bodies):
            break
    assert [b["type"] for b in bodies if b["payload"].get("live")] == ["settlement.requested"]
