"""The app over the pipeline's container (own queues, real commits), so a redemption goes
redeem -> outbox -> relay -> SQS -> saga worker exactly as in production."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from myapi.main import create_app
from tests.support.pipeline import Pipeline


@pytest.fixture
def api(pipeline: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(container=pipeline.container), raise_server_exceptions=False) as client:
        yield client
