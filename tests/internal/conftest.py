"""Fixtures of the /internal tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from myapi.main import create_app
from tests.support.pipeline import Pipeline


@pytest.fixture
def pipeline_client(pipeline: Pipeline) -> Iterator[TestClient]:
    """The app over the pipeline's container: its own queues, real commits."""
    with TestClient(create_app(container=pipeline.container), raise_server_exceptions=False) as c:
        yield c
