"""Fixtures of the operator tools' tests: the app over the pipeline's container (its own
queues, real commits) and an ADMIN's and a player's bearer headers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from myapi.main import create_app
from tests.support.http import bearer, dev_login
from tests.support.pipeline import Pipeline


@pytest.fixture
def ops_api(pipeline: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(container=pipeline.container), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def admin(ops_api: TestClient) -> dict[str, str]:
    return bearer(dev_login(ops_api, "ops.admin@example.com", role="ADMIN")["access_token"])


@pytest.fixture
def player(ops_api: TestClient) -> dict[str, str]:
    return bearer(dev_login(ops_api, "ops.player@example.com")["access_token"])
