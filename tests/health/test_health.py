from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from myapi.core.clock import FrozenClock
from myapi.main import create_app
from tests.support.app import build_test_container, make_settings
from tests.support.days import DEFAULT_NOW


def test_health_is_200(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["data"] == {"status": "ok"}


def test_ready_is_200_when_database_and_queue_answer(client: TestClient) -> None:
    r = client.get("/ready")
    assert r.status_code == 200
    assert r.json()["data"] == {"status": "ready", "checks": {"database": "ok", "queue": "ok"}}


@pytest.fixture
def client_for() -> Iterator[object]:
    clients: list[TestClient] = []

    def make(database_url: str, sqs_endpoint: str) -> TestClient:
        settings = make_settings(database_url, sqs_endpoint, db_pool_timeout_s=2)
        container = build_test_container(settings, FrozenClock(DEFAULT_NOW))
        c = TestClient(create_app(container=container), raise_server_exceptions=False)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def test_ready_is_503_naming_the_database_when_it_is_down(
    client_for: object, sqs_endpoint: str, queues_ready: None
) -> None:
    down = "postgresql+psycopg2://postgres@127.0.0.1:1/nothing"
    r = client_for(down, sqs_endpoint)  # type: ignore[operator]
    resp = r.get("/ready")
    assert resp.status_code == 503
    body = resp.json()
    assert body["error"]["code"] == "SYS_503"
    assert body["error"]["message"] == "Not ready: database"
    assert body["error"]["details"]["checks"]["queue"] == "ok"
    assert body["error"]["details"]["checks"]["database"].startswith("unavailable")
    # Liveness does not depend on the database.
    assert r.get("/health").status_code == 200


def test_ready_is_503_naming_the_queue_when_it_is_down(client_for: object, database_url: str) -> None:
    r = client_for(database_url, "http://127.0.0.1:1")  # type: ignore[operator]
    resp = r.get("/ready")
    assert resp.status_code == 503
    assert resp.json()["error"]["message"] == "Not ready: queue"
    assert resp.json()["error"]["details"]["checks"]["database"] == "ok"


def test_metrics_count_requests_by_route_template_and_status(client: TestClient) -> None:
    from tests.support import routes

    client.app.include_router(routes.router)  # type: ignore[attr-defined]
    client.get("/test/items/1")
    client.get("/test/items/2")
    client.get("/test/items/101")
    client.get("/definitely/not/here")
    text = client.get("/metrics").text
    assert 'http_requests_total{method="GET",route="/test/items/{item_id}",status="200"} 2.0' in text
    assert 'http_requests_total{method="GET",route="/test/items/{item_id}",status="404"} 1.0' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "http_request_duration_seconds_bucket" in text
    assert 'db_pool_checked_out{pool="request"}' in text
    assert 'db_pool_size{pool="rate_limit"} 5.0' in text
    assert "outbox_unpublished" in text and "outbox_oldest_age_seconds" in text
