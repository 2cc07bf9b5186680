"""Every error is the SPEC §8 envelope with a stable code, and a 500 leaks nothing."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support import routes


@pytest.fixture
def app_with_test_routes(app: FastAPI) -> FastAPI:
    app.include_router(routes.router)
    return app


@pytest.fixture
def c(app_with_test_routes: FastAPI) -> TestClient:
    return TestClient(app_with_test_routes, raise_server_exceptions=False)


def _assert_envelope(body: dict[str, object], code: str) -> dict[str, object]:
    assert body["success"] is False
    assert body["data"] is None
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(body["meta"], dict) and body["meta"]["request_id"]
    return error


def test_unknown_route_is_404_envelope(c: TestClient) -> None:
    r = c.get("/v1/does-not-exist")
    assert r.status_code == 404
    _assert_envelope(r.json(), "SYS_404")


def test_app_error_keeps_its_own_code_and_message(c: TestClient) -> None:
    r = c.get("/test/items/101")
    assert r.status_code == 404
    error = _assert_envelope(r.json(), "ITEM_404")
    assert error["message"] == "item 101 does not exist"


def test_wrong_method_is_405_envelope(c: TestClient) -> None:
    r = c.delete("/health")
    assert r.status_code == 405
    _assert_envelope(r.json(), "SYS_405")


def test_validation_error_is_422_with_field_details(c: TestClient) -> None:
    r = c.post("/test/echo", json={"name": "", "qty": 0})
    assert r.status_code == 422
    error = _assert_envelope(r.json(), "SYS_422")
    details = error["details"]
    assert isinstance(details, list)
    fields = {d["field"]: d for d in details}
    assert set(fields) == {"name", "qty"}
    assert fields["qty"]["location"] == "body"
    assert "greater than 0" in fields["qty"]["message"]


def test_malformed_json_and_bad_path_param_are_422(c: TestClient) -> None:
    r = c.post("/test/echo", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    _assert_envelope(r.json(), "SYS_422")
    r = c.get("/test/items/abc")
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "item_id"


def test_unhandled_error_is_500_without_internals_and_logged_with_request_id(
    c: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="myapi.errors"):
        r = c.get("/test/boom", headers={"X-Request-ID": "req-boom-1"})
    assert r.status_code == 500
    error = _assert_envelope(r.json(), "SYS_500")
    assert error["message"] == "Internal server error"
    assert error["details"] is None
    assert "hunter2" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text
    assert r.headers["x-request-id"] == "req-boom-1"
    assert r.json()["meta"]["request_id"] == "req-boom-1"
    logged = [rec for rec in caplog.records if rec.name == "myapi.errors"]
    assert logged and logged[0].exc_info is not None
    assert "hunter2" in str(logged[0].exc_info[1])  # the log has it; the client does not


def test_success_envelope_shape(c: TestClient) -> None:
    r = c.post("/test/echo", json={"name": "ok", "qty": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["error"] is None
    assert body["data"] == {"name": "ok", "qty": 2}
    assert body["meta"]["request_id"] == r.headers["x-request-id"]


def test_openapi_documents_the_error_envelope(c: TestClient) -> None:
    spec = c.get("/openapi.json").json()
    assert "ErrorEnvelope" in spec["components"]["schemas"]
    ready = spec["paths"]["/ready"]["get"]["responses"]
    assert "503" in ready and "422" in ready


def test_an_exhausted_pool_is_a_503_envelope_not_a_500(app: FastAPI) -> None:
    from fastapi import APIRouter
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    router = APIRouter()

    @router.get("/test/busy")
    def busy() -> None:
        raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached")

    app.include_router(router)
    r = TestClient(app, raise_server_exceptions=False).get("/test/busy")
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.json()["error"]["code"] == "SYS_503" and "QueuePool" not in r.text
