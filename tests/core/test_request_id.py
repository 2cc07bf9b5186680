from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient


def test_a_well_formed_request_id_is_echoed(client: TestClient) -> None:
    r = client.get("/health", headers={"X-Request-ID": "abc-123.def:9"})
    assert r.headers["x-request-id"] == "abc-123.def:9"
    assert r.json()["meta"]["request_id"] == "abc-123.def:9"


def test_a_missing_request_id_is_generated(client: TestClient) -> None:
    first = client.get("/health").headers["x-request-id"]
    second = client.get("/health").headers["x-request-id"]
    assert len(first) == 32 and first != second


def test_a_malformed_request_id_is_replaced_not_echoed(client: TestClient) -> None:
    r = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces" + "x" * 200})
    assert r.headers["x-request-id"] != "bad id\twith spaces" + "x" * 200
    assert len(r.headers["x-request-id"]) == 32


def test_errors_carry_the_request_id_too(client: TestClient) -> None:
    r = client.get("/nope", headers={"X-Request-ID": "trace-404"})
    assert r.status_code == 404
    assert r.headers["x-request-id"] == "trace-404"
    assert r.json()["meta"]["request_id"] == "trace-404"


def test_access_log_is_json_with_request_id_and_route(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    from myapi.core.logging import JsonFormatter

    with caplog.at_level(logging.INFO, logger="myapi.access"):
        client.get("/health", headers={"X-Request-ID": "log-me"})
    records = [r for r in caplog.records if r.name == "myapi.access"]
    assert records
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["route"] == "/health" and line["status"] == 200 and line["method"] == "GET"
    assert line["request_id"] == "log-me"
    assert isinstance(line["duration_ms"], float)


def test_cors_preflight_allows_configured_origin_only(client: TestClient) -> None:
    headers = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
    r = client.options("/health", headers=headers)
    assert r.headers.get("access-control-allow-origin") == "http://localhost:3000"
    r = client.options("/health", headers={**headers, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
