"""The OpenAPI document is fit for generating a client: every operation walked, statically
(ids, descriptions, security, the documented errors and headers, a valid document) and
over HTTP (what it says about 401/403, the rate limit, Idempotency-Key and maintenance
mode is what the routes answer)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from openapi_spec_validator import OpenAPIV31SpecValidator
from sqlalchemy import Engine

from myapi.apidocs.openapi import operation_id, route_facts
from myapi.auth.guards import PUBLIC_ROUTES, CurrentUserDep
from myapi.container import Container
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.idempotency import IdempotentDep
from myapi.main import create_app
from myapi.ratelimit.deps import rate_limit
from tests.support.app import build_test_container, make_settings
from tests.support.days import DEFAULT_NOW
from tests.support.http import bearer, dev_login, error_code, internal

METHODS = ("get", "put", "post", "patch", "delete")
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
SAMPLE = {"date": "2026-11-24", "date-time": "2026-11-24T00:00:00+09:00"}
VENDOR_PATH = "/internal/vendor/eod-event"
# The writes that take an Idempotency-Key (myapi.core.idempotency's IdempotentDep), listed
# here independently of the dependency walk the document is made from.
IDEMPOTENT = {
    ("post", "/v1/predictions/{symbol}"),
    ("patch", "/v1/predictions/{symbol}"),
    ("delete", "/v1/predictions/{symbol}"),
    ("post", "/v1/ads/unlock"),
    ("post", "/v1/rewards/redeem"),
    ("post", "/v1/rewards/redemptions/{redemption_id}/cancel"),
    ("post", "/admin/users/{user_id}/adjust-points"),
}


@pytest.fixture(scope="module")
def spec(settings: Settings, engine: Engine, queues_ready: None) -> dict[str, Any]:
    """The document of an app built as in production (routes and dependencies); building it
    touches no database."""
    app = create_app(container=build_test_container(settings, FrozenClock(DEFAULT_NOW), engine))
    return app.openapi()


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def _concrete(path: str, operation: dict[str, Any]) -> str:
    """The path with each parameter given a value of its type."""
    values = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            schema = parameter.get("schema", {})
            values[parameter["name"]] = (
                "1" if schema.get("type") == "integer" else SAMPLE.get(schema.get("format", ""), "AAPL")
            )
    return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), "1"), path)


def _schemes(operation: dict[str, Any]) -> set[str]:
    return {name for requirement in operation.get("security", []) for name in requirement}


def test_the_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    errors = [error.message for error in OpenAPIV31SpecValidator(spec).iter_errors()]
    assert errors == []


def test_the_docs_and_the_document_stay_where_they_are(spec: dict[str, Any]) -> None:
    assert len(list(_operations(spec))) >= 80
    assert not any(path.startswith(("/docs", "/redoc", "/openapi")) for path in spec["paths"])


def test_operation_ids_are_readable_unique_and_snake_case(spec: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(spec)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for op_id in ids:
        assert SNAKE_CASE.match(op_id), op_id
        # Nothing of FastAPI's default (`name` + path + method): no path, no method suffix.
        assert "v1" not in op_id.split("_") and not op_id.endswith(tuple(f"_{m}" for m in METHODS)), op_id
    by_route = {(method, path): operation["operationId"] for method, path, operation in _operations(spec)}
    assert by_route[("post", "/v1/predictions/{symbol}")] == "predictions_submit"
    assert by_route[("get", "/v1/leaderboard")] == "leaderboard"
    assert by_route[("get", "/admin/users")] == "admin_user_search"
    assert by_route[("post", "/internal/cycle/tick")] == "internal_cycle_tick"
    assert by_route[("post", VENDOR_PATH)] == "internal_vendor_eod_event"


def test_an_operation_id_comes_from_the_area_and_the_name_only() -> None:
    """Stable: the same route name in the same area is the same id, whatever its path
    parameters, method or place in the app."""

    def route(path: str, name: str, tags: list[str] | None = None, method: str = "GET") -> APIRoute:
        return APIRoute(path, lambda: None, name=name, tags=list(tags or []), methods=[method])

    assert operation_id(route("/v1/things/{thing_id}", "get_thing", ["game"])) == "things_get_thing"
    assert operation_id(route("/v1/things", "get_thing", method="DELETE")) == "things_get_thing"
    assert operation_id(route("/v1/things", "things")) == "things"
    assert operation_id(route("/v1/things/{x}", "things_top")) == "things_top"
    assert operation_id(route("/admin/things/{x}/do-it", "do_it", ["admin"])) == "admin_do_it"
    assert operation_id(route("/internal/x", "Run-Job")) == "internal_run_job"
    assert operation_id(route("/health", "health", ["operations"])) == "operations_health"
    assert operation_id(route("/test/echo", "echo")) == "test_echo"


def test_every_operation_has_a_summary_and_a_description(spec: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in _operations(spec):
        summary = operation.get("summary", "")
        description = operation.get("description", "")
        if not summary or len(description) < 40 or not description.rstrip().endswith((".", ")")):
            missing.append(f"{method.upper()} {path}")
        elif description.strip() == summary.strip():
            missing.append(f"{method.upper()} {path}: the description repeats the summary")
    assert missing == []


def test_the_security_schemes_are_the_bearer_jwt_the_internal_token_and_the_vendor_hmac(
    spec: dict[str, Any],
) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {**schemes["HTTPBearer"], "type": "http", "scheme": "bearer"}
    assert schemes["HTTPBearer"]["bearerFormat"] == "JWT"
    assert {k: schemes["InternalToken"][k] for k in ("type", "in", "name")} == {
        "type": "apiKey", "in": "header", "name": "X-Internal-Token",
    }  # fmt: skip
    vendor = schemes["VendorSignature"]
    assert (vendor["type"], vendor["in"], vendor["name"]) == ("apiKey", "header", "X-Vendor-Signature")
    assert "HMAC-SHA256" in vendor["description"] and "X-Vendor-Timestamp" in vendor["description"]
    assert set(schemes) == {"HTTPBearer", "InternalToken", "VendorSignature"}


def test_each_operation_names_the_scheme_its_prefix_and_guard_need(spec: dict[str, Any]) -> None:
    for method, path, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        schemes = _schemes(operation)
        parameters = {(p["in"], p["name"].lower()) for p in operation.get("parameters", [])}
        assert ("header", "x-internal-token") not in parameters, f"{where}: a scheme, not a parameter"
        if path == VENDOR_PATH:
            assert schemes == {"VendorSignature"}, where
            assert ("header", "x-vendor-timestamp") in parameters, where
        elif path.startswith("/internal/"):
            assert schemes == {"InternalToken"}, where
        elif path.startswith("/admin/") or (
            path.startswith("/v1/") and (method.upper(), path) not in PUBLIC_ROUTES
        ):
            assert schemes == {"HTTPBearer"}, where
        else:
            assert "security" not in operation, f"{where} is public"


def test_401_and_403_are_documented_where_the_guards_answer_them(spec: dict[str, Any]) -> None:
    for method, path, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        if _schemes(operation):
            assert "401" in responses, where
        if path.startswith(("/admin/", "/internal/")):
            assert "403" in responses, where
        if _schemes(operation) == {"HTTPBearer"}:
            assert "AUTH_001" in responses["401"]["description"], where
            assert "WWW-Authenticate" in responses["401"]["headers"], where
        if path.startswith("/admin/"):
            assert "AUTH_003" in responses["403"]["description"], where
    signed = spec["paths"][VENDOR_PATH]["post"]["responses"]
    assert "VENDOR_001" in signed["401"]["description"] and "VENDOR_002" in signed["403"]["description"]


def test_the_documented_401_and_403_are_what_the_routes_answer(
    spec: dict[str, Any], client: TestClient, settings: Settings
) -> None:
    """Every operation called without credentials (and with a player's token on /admin,
    a wrong token on /internal): a documented 401/403 is what it answers, and a public
    operation answers neither. No call gets past its guard, so nothing changes."""
    player = bearer(dev_login(client, "openapi.player@example.com")["access_token"])
    wrong = []
    for method, path, operation in _operations(spec):
        url = _concrete(path, operation)
        where = f"{method.upper()} {path}"
        schemes = _schemes(operation)
        anonymous = client.request(method, url)
        if not schemes:
            if anonymous.status_code in (401, 403):
                wrong.append(f"{where}: public, yet {anonymous.status_code}")
            continue
        if anonymous.status_code != 401:
            wrong.append(f"{where}: no credentials, {anonymous.status_code} not 401")
        if path.startswith("/admin/"):
            r = client.request(method, url, headers=player)
            if (r.status_code, error_code(r)) != (403, "AUTH_003"):
                wrong.append(f"{where}: a player's token, {r.status_code} not 403")
        elif path == VENDOR_PATH:
            unsigned = {"X-Vendor-Timestamp": str(int(time.time())), "X-Vendor-Signature": "0" * 64}
            r = client.request(method, url, content=b"{}", headers=unsigned)
            if (r.status_code, error_code(r)) != (403, "VENDOR_002"):
                wrong.append(f"{where}: a bad signature, {r.status_code} not 403")
        elif path.startswith("/internal/"):
            r = client.request(method, url, headers={"X-Internal-Token": settings.internal_token + "x"})
            if (r.status_code, error_code(r)) != (403, "AUTH_003"):
                wrong.append(f"{where}: a wrong internal token, {r.status_code} not 403")
        elif method == "get":  # reads only: a player's token runs the route
            r = client.request(method, url, headers=player)
            if r.status_code in (401, 403):
                wrong.append(f"{where}: a player's token, yet {r.status_code}")
    assert wrong == []


def test_the_operations_follow_the_dependencies_they_are_derived_from(
    spec: dict[str, Any], app: FastAPI
) -> None:
    """A route added with a guard, the rate limit and an Idempotency-Key gets them in the
    document without a word of its own."""
    extra = APIRouter(prefix="/v1/extra", tags=["extra"], dependencies=[Depends(rate_limit)])

    @extra.post("/things", summary="A new route")
    def make_thing(user: CurrentUserDep, idem: IdempotentDep) -> dict[str, str]:
        """Makes a thing, to prove that new routes are documented from their dependencies."""
        return {}

    app.include_router(extra)
    operation = app.openapi()["paths"]["/v1/extra/things"]["post"]
    assert operation["operationId"] == "extra_make_thing"
    assert operation["security"] == [{"HTTPBearer": []}]
    assert {"401", "429", "503"} <= set(operation["responses"])
    assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}
    assert "Idempotent-Replayed" in operation["responses"]["200"]["headers"]
    route = next(r for r in iter_route_contexts(list(app.routes)) if r.path == "/v1/extra/things")
    facts = route_facts(route)
    assert (facts.access, facts.rate_limited, facts.idempotent) == ("player", True, True)


def test_idempotency_key_is_documented_on_the_writes_that_honour_it(spec: dict[str, Any]) -> None:
    documented = set()
    for method, path, operation in _operations(spec):
        parameters = {p["name"]: p for p in operation.get("parameters", [])}
        if "Idempotency-Key" not in parameters:
            continue
        documented.add((method, path))
        header = parameters["Idempotency-Key"]
        assert header["in"] == "header" and header["required"] is False
        assert header["schema"]["maxLength"] == 255
        responses = operation["responses"]
        success = [r for status, r in responses.items() if status.startswith("2")]
        assert success and all("Idempotent-Replayed" in r["headers"] for r in success), path
        assert "IDEM_002" in responses["409"]["description"] and "IDEM_003" in responses["422"]["description"]
        assert "IDEM_001" in responses["400"]["description"]
    assert documented == IDEMPOTENT


def test_a_replayed_write_answers_the_documented_header(
    spec: dict[str, Any], client: TestClient
) -> None:
    operation = spec["paths"]["/admin/users/{user_id}/adjust-points"]["post"]
    assert "Idempotent-Replayed" in operation["responses"]["200"]["headers"]
    admin = bearer(dev_login(client, "openapi.admin@example.com", role="ADMIN")["access_token"])
    player_id = dev_login(client, "openapi.credit@example.com")["user"]["id"]
    body = {"delta": 5, "reason": "openapi replay check"}
    headers = {**admin, "Idempotency-Key": "openapi-replay-1"}
    first = client.post(f"/admin/users/{player_id}/adjust-points", json=body, headers=headers)
    again = client.post(f"/admin/users/{player_id}/adjust-points", json=body, headers=headers)
    assert first.status_code == again.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["data"] == first.json()["data"]


def test_the_rate_limit_is_documented_on_every_rate_limited_operation(spec: dict[str, Any]) -> None:
    limited = set()
    for method, path, operation in _operations(spec):
        responses = operation["responses"]
        if "429" not in responses:
            assert not path.startswith("/v1/"), f"{method.upper()} {path}: every /v1 route is limited"
            continue
        limited.add((method, path))
        assert set(responses["429"]["headers"]) == {
            "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
        }  # fmt: skip
        for status, response in responses.items():
            if status.startswith(("2", "3")):
                assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
                    response["headers"]
                ), (method, path, status)
    assert limited == {(m, p) for m, p, _ in _operations(spec) if p.startswith("/v1/")}
    assert {"X-RateLimit-Limit", "Retry-After"} <= set(spec["components"]["headers"])


def test_the_documented_rate_limit_headers_are_what_the_routes_send(
    spec: dict[str, Any], settings: Settings, clock: FrozenClock, live_engine: Engine, queues_ready: None
) -> None:
    tight = make_settings(settings.database_url, settings.sqs_endpoint_url or "", rate_limit_ip=2)
    app = create_app(container=build_test_container(tight, clock, live_engine))
    documented = spec["paths"]["/v1/rewards/catalog"]["get"]["responses"]
    # A minute of its own: the windows other tests' requests counted (they commit) are elsewhere.
    clock.set(datetime(2027, 3, 9, 4, 7, 10, tzinfo=UTC))
    with TestClient(app, raise_server_exceptions=False) as limited:
        answers = [limited.get("/v1/rewards/catalog") for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    for name in documented["200"]["headers"]:
        if name.startswith("X-RateLimit-"):
            assert name.lower() in answers[0].headers, name
    for name in documented["429"]["headers"]:
        assert name.lower() in answers[2].headers, name
    assert error_code(answers[2]) == "SYS_429"


def test_maintenance_mode_is_documented_on_the_player_writes_it_refuses(
    spec: dict[str, Any], container: Container, settings: Settings
) -> None:
    for method, path, operation in _operations(spec):
        refused = method != "get" and path.startswith("/v1/") and not path.startswith("/v1/auth/")
        documented = "MAINT_001" in operation["responses"].get("503", {}).get("description", "")
        assert documented == refused, f"{method.upper()} {path}"
    container.settings.override(settings.model_copy(update={"maintenance_cache_s": 0}))
    with TestClient(create_app(container=container), raise_server_exceptions=False) as client:
        admin = bearer(dev_login(client, "openapi.ops@example.com", role="ADMIN")["access_token"])
        player = bearer(dev_login(client, "openapi.maint@example.com")["access_token"])
        assert client.put("/admin/maintenance", json={"enabled": True}, headers=admin).status_code == 200
        r = client.patch("/v1/users/me", json={"nickname": "maint_check"}, headers=player)
        assert (r.status_code, error_code(r)) == (503, "MAINT_001") and "retry-after" in r.headers
        assert client.put("/admin/maintenance", json={"enabled": False}, headers=admin).status_code == 200


def test_the_internal_routes_are_documented_with_the_token_they_check(
    spec: dict[str, Any], client: TestClient, settings: Settings
) -> None:
    """With the documented scheme's header, an /internal route runs (the GC touches nothing
    of the test's data)."""
    operation = spec["paths"]["/internal/maintenance/gc"]["post"]
    assert _schemes(operation) == {"InternalToken"}
    header = spec["components"]["securitySchemes"]["InternalToken"]["name"]
    r = client.post("/internal/maintenance/gc", headers={header: internal(settings)["X-Internal-Token"]})
    assert r.status_code == 200 and r.json()["data"]["job"] == "maintenance.gc"
