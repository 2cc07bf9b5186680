"""The OpenAPI document as a client generator needs it, derived from the routes in one
place (a new route is covered without anyone writing its security by hand):

* `operation_id(route)`: readable, stable, snake_case operation ids — the route's area
  (`admin`, `internal`, the resource after `/v1/`, or else its first tag) and its name
  (the endpoint function's name, also the audit's action): `predictions_submit`,
  `admin_user_search`, `internal_cycle_tick`. FastAPI calls it for every route
  (`generate_unique_id_function` in myapi.main).
* `document(spec, routes)`: from each route's dependencies (the guards of
  myapi.auth.guards, the rate limit, the Idempotency-Key dependency) — the security
  scheme it needs (`HTTPBearer`, `InternalToken`, `VendorSignature`; public routes
  none), the 401/403 it answers, the `Idempotency-Key` header it honours, the rate-limit
  headers and the 429 of the rate-limited routes; and the 503 of maintenance mode on the
  player writes it refuses (the rule of myapi.maintenance.middleware).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from myapi.auth.guards import (
    VENDOR_SIGNATURE_HEADER,
    VENDOR_TIMESTAMP_HEADER,
    VENDOR_WINDOW_S,
    current_user,
    require_admin,
    require_internal,
    require_vendor_signature,
)
from myapi.core.idempotency import HEADER as IDEMPOTENCY_HEADER
from myapi.core.idempotency import MAX_KEY_LENGTH, idempotency_input
from myapi.maintenance.middleware import CODE as MAINTENANCE_CODE
from myapi.maintenance.middleware import EXEMPT_PREFIXES as MAINTENANCE_EXEMPT
from myapi.maintenance.middleware import WRITE_METHODS as MAINTENANCE_METHODS
from myapi.ratelimit.deps import rate_limit

BEARER = "HTTPBearer"
INTERNAL = "InternalToken"
VENDOR = "VendorSignature"
INTERNAL_TOKEN_HEADER = "X-Internal-Token"
ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorEnvelope"}
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
_AREAS = ("admin", "internal")

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An RS256 access token from /v1/auth (OAuth callback, token refresh, or dev-login "
        "outside production), sent as `Authorization: Bearer <token>`. Player routes need the token of an "
        "active account; /admin routes the token of a user with role ADMIN.",
    },
    INTERNAL: {
        "type": "apiKey",
        "in": "header",
        "name": INTERNAL_TOKEN_HEADER,
        "description": "The scheduler's shared secret (setting INTERNAL_TOKEN), compared in constant time. "
        "Every /internal route but the vendor webhooks needs it.",
    },
    VENDOR: {
        "type": "apiKey",
        "in": "header",
        "name": VENDOR_SIGNATURE_HEADER,
        "description": "Not a static key: an HMAC-SHA256 signature computed per request, hex, over "
        f"`{{{VENDOR_TIMESTAMP_HEADER}}}.{{raw request body}}` with the shared VENDOR_WEBHOOK_SECRET. "
        f"The `{VENDOR_TIMESTAMP_HEADER}` header (unix seconds) must be within {VENDOR_WINDOW_S // 60} "
        "minutes of the server's clock. Compared in constant time.",
    },
}

HEADERS: dict[str, dict[str, Any]] = {
    "X-RateLimit-Limit": {
        "description": "Requests allowed in the sliding window (RATE_LIMIT_WINDOW_S) for the tightest "
        "limit this request falls under (per player and route class, per IP).",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the window under that limit.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Reset": {
        "description": "Seconds until the current window ends.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same "
        "Idempotency-Key (nothing was done again).",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with.",
        "schema": {"type": "string", "enum": ["Bearer"]},
    },
}

IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": "A key the client chooses per intended write (1-255 visible ASCII characters), kept "
    "24 h per caller. A retry with the same key and the same request replays the first answer "
    "(`Idempotent-Replayed: true`) instead of doing it again; the same key with another request is "
    "422 IDEM_003; while the first is still running, 409 IDEM_002. Only successful answers are stored.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[!-~]+$"},
}

VENDOR_TIMESTAMP_PARAMETER: dict[str, Any] = {
    "name": VENDOR_TIMESTAMP_HEADER,
    "in": "header",
    "required": True,
    "description": f"Unix seconds when the vendor signed the request; part of the signed text "
    f"(see the {VENDOR} security scheme).",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}

# (code, explanation) per error status an access rule answers.
Errors = dict[int, list[tuple[str, str]]]
_BEARER_401 = [("AUTH_001", "no access token, or it is invalid or expired, or the account is deactivated")]


@dataclass(frozen=True)
class Access:
    """What an operation needs and what it answers when the caller lacks it."""

    security: list[dict[str, list[str]]]
    errors: Errors = field(default_factory=dict)
    # Headers of the 401, by status.
    headers: dict[int, list[str]] = field(default_factory=dict)


PUBLIC = Access(security=[])
ACCESS: dict[str, Access] = {
    "player": Access([{BEARER: []}], {401: _BEARER_401}, {401: ["WWW-Authenticate"]}),
    "admin": Access(
        [{BEARER: []}],
        {401: _BEARER_401, 403: [("AUTH_003", "the token's user is not an ADMIN")]},
        {401: ["WWW-Authenticate"]},
    ),
    "internal": Access(
        [{INTERNAL: []}],
        {401: [("AUTH_001", f"no {INTERNAL_TOKEN_HEADER}")], 403: [("AUTH_003", "wrong internal token")]},
    ),
    "vendor": Access(
        [{VENDOR: []}],
        {
            401: [("VENDOR_001", f"no {VENDOR_SIGNATURE_HEADER} or {VENDOR_TIMESTAMP_HEADER}")],
            403: [
                ("VENDOR_002", "the signature does not match"),
                ("VENDOR_003", f"the timestamp is not a number or is more than {VENDOR_WINDOW_S} s off"),
            ],
        },
    ),
}
IDEMPOTENCY_ERRORS: Errors = {
    400: [("IDEM_001", "malformed Idempotency-Key")],
    409: [("IDEM_002", "a request with this Idempotency-Key is still running; retry shortly")],
    422: [("IDEM_003", "this Idempotency-Key was used with another request")],
}
RATE_LIMIT_ERRORS: Errors = {429: [("SYS_429", "rate limited: wait Retry-After seconds")]}
MAINTENANCE_ERRORS: Errors = {
    503: [(MAINTENANCE_CODE, "maintenance mode is on: player writes are refused; retry after Retry-After")]
}


def operation_id(route: Any) -> str:
    """`{area}_{name}`, snake_case; the name alone when it already starts with the area
    (`/v1/leaderboard` `leaderboard` -> `leaderboard`)."""
    path: str = getattr(route, "path_format", None) or getattr(route, "path", "") or ""
    segments = [s for s in path.split("/") if s and not s.startswith("{")]
    tags = [str(tag) for tag in getattr(route, "tags", None) or []]
    if segments and segments[0] in _AREAS:
        area = segments[0]
    elif len(segments) > 1 and segments[0] == "v1":
        area = segments[1]
    elif tags:
        area = tags[0]
    else:
        area = segments[0] if segments else "root"
    area, name = _snake(area), _snake(str(getattr(route, "name", "") or "operation"))
    return name if name == area or name.startswith(area + "_") else f"{area}_{name}"


def _snake(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"\W", "_", text)).strip("_").lower()


@dataclass(frozen=True)
class RouteFacts:
    """What the dependencies of a route say about it."""

    access: str  # "public" or a key of ACCESS
    rate_limited: bool
    idempotent: bool


def refused_in_maintenance(method: str, path: str) -> bool:
    """Whether maintenance mode answers this operation 503 (myapi.maintenance.middleware)."""
    return (
        method.upper() in MAINTENANCE_METHODS
        and path.startswith("/v1/")
        and not path.startswith(MAINTENANCE_EXEMPT)
    )


def route_facts(route: Any) -> RouteFacts:
    calls = set(_dependency_calls(route))
    if require_vendor_signature in calls:
        access = "vendor"
    elif require_internal in calls:
        access = "internal"
    elif require_admin in calls:
        access = "admin"
    elif current_user in calls:
        access = "player"
    else:
        access = "public"
    return RouteFacts(access, rate_limit in calls, idempotency_input in calls)


def _dependency_calls(route: Any) -> Iterator[Callable[..., Any]]:
    dependant = getattr(route, "dependant", None)
    stack = list(dependant.dependencies) if dependant is not None else []
    while stack:
        dependency = stack.pop()
        if dependency.call is not None:
            yield dependency.call
        stack.extend(dependency.dependencies)


def document(spec: dict[str, Any], routes: Iterable[Any]) -> dict[str, Any]:
    """Add what the routes' dependencies say to the document FastAPI generated (in place)."""
    components = spec.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    components.setdefault("headers", {}).update(HEADERS)
    paths: dict[str, dict[str, Any]] = spec.get("paths", {})
    for route in iter_route_contexts(list(routes)):
        item = paths.get(route.path_format or "")
        if item is None or not getattr(route, "include_in_schema", False):
            continue
        facts = route_facts(route)
        for method in sorted(route.methods or ()):
            operation = item.get(method.lower())
            if operation is not None:
                _document_operation(operation, facts)
                if refused_in_maintenance(method, route.path_format or ""):
                    _add_errors(operation, MAINTENANCE_ERRORS, {503: ["Retry-After"]})
    return spec


def _document_operation(operation: dict[str, Any], facts: RouteFacts) -> None:
    access = ACCESS.get(facts.access, PUBLIC)
    if access.security:
        operation["security"] = [dict(requirement) for requirement in access.security]
    else:
        operation.pop("security", None)
    # The internal token is a security scheme, not a parameter of each operation.
    parameters = [
        p
        for p in operation.get("parameters", [])
        if not (p.get("in") == "header" and p.get("name", "").lower() == INTERNAL_TOKEN_HEADER.lower())
    ]
    if facts.access == "vendor":
        parameters.append(dict(VENDOR_TIMESTAMP_PARAMETER))
    if facts.idempotent:
        parameters.append(dict(IDEMPOTENCY_PARAMETER))
    if parameters:
        operation["parameters"] = parameters
    else:
        operation.pop("parameters", None)
    _add_errors(operation, access.errors, access.headers)
    if facts.idempotent:
        _add_errors(operation, IDEMPOTENCY_ERRORS)
        _add_success_headers(operation, ["Idempotent-Replayed"])
    if facts.rate_limited:
        _add_errors(operation, RATE_LIMIT_ERRORS, {429: ["Retry-After", *RATE_LIMIT_HEADERS]})
        _add_success_headers(operation, list(RATE_LIMIT_HEADERS))


def _add_errors(
    operation: dict[str, Any], errors: Errors, headers: dict[int, list[str]] | None = None
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, entries in sorted(errors.items()):
        text = ", ".join(f"{code} {why}" for code, why in entries)
        response = responses.get(str(status))
        if response is None:
            responses[str(status)] = {
                "description": text,
                "content": {"application/json": {"schema": dict(ERROR_SCHEMA)}},
            }
        else:
            known = response.get("description") or ""
            missing = [f"{code} {why}" for code, why in entries if code not in known]
            if missing:
                response["description"] = "; ".join([known or "Error", *missing])
        for name in (headers or {}).get(status, []):
            _add_header(responses[str(status)], name)
    operation["responses"] = dict(sorted(responses.items()))


def _add_success_headers(operation: dict[str, Any], names: list[str]) -> None:
    for status, response in operation.get("responses", {}).items():
        if status.startswith(("2", "3")):
            for name in names:
                _add_header(response, name)


def _add_header(response: dict[str, Any], name: str) -> None:
    response.setdefault("headers", {})[name] = {"$ref": f"#/components/headers/{name}"}


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` return the documented document. FastAPI regenerates it when
    routes are added; each new one is documented once."""
    generate = app.openapi
    documented: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        spec = generate()
        if not documented or documented[0] is not spec:
            document(spec, app.routes)
            documented[:] = [spec]
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
