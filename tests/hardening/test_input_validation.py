"""Bad input is a 422, never a 500 (issue 15): control characters and lone surrogates in
any path, query, header or JSON body string are refused before a route runs
(myapi/core/input_guard.py), and dates outside the calendar's range are CYCLE_005 with
the supported range (myapi/cycle/calendar.py).

Each finding of the issue is reproduced as it was found (all were 500s), then every
operation of the OpenAPI document is walked with a NUL (and other control characters) in
each of its path, query and header parameters and body strings."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.input_guard import InputGuardMiddleware
from myapi.cycle.calendar import CalendarRangeError, MarketCalendar
from myapi.models import metadata
from tests.support.db import balance_of, count
from tests.support.factories import open_day
from tests.support.http import bearer, dev_login, error_code, internal
from tests.support.live_server import LiveServer

METHODS = ("get", "put", "post", "patch", "delete")
SAMPLE = {"date": "2026-11-24", "date-time": "2026-11-24T00:00:00+09:00"}
REDIRECT = "https://app.example/auth/callback"


# --- helpers ---------------------------------------------------------------------------


def snapshot(db: Session) -> dict[str, int]:
    """Rows per table: what a refused request must leave as it was."""
    return {
        f"{t.schema}.{t.name}": count(db, f"SELECT count(*) FROM {t.schema}.{t.name}")
        for t in metadata.sorted_tables
    }


def refused(r: Any, location: str, field: str, kind: str = "control_character") -> None:
    """The guard's 422: SYS_422 naming the field, as FastAPI's validation errors do."""
    assert r.status_code == 422, r.text
    assert error_code(r) == "SYS_422", r.text
    wanted = {"location": location, "field": field, "type": kind}
    details = r.json()["error"]["details"]
    assert any({k: d.get(k) for k in wanted} == wanted for d in details), (wanted, details)


def raw_json(client: TestClient, method: str, url: str, document: Any, headers: dict[str, str]) -> Any:
    """A JSON body as ASCII (escapes such as \\ud800 kept as they are)."""
    content = json.dumps(document).encode()
    return client.request(
        method, url, content=content, headers={**headers, "Content-Type": "application/json"}
    )


@pytest.fixture
def people(client: TestClient, settings: Settings) -> dict[str, Any]:
    player = dev_login(client, "guard.player@example.com")
    admin = dev_login(client, "guard.admin@example.com", role="ADMIN")
    return {
        "player": bearer(player["access_token"]),
        "admin": bearer(admin["access_token"]),
        "internal": internal(settings),
        "player_id": int(player["user"]["id"]),
    }


def credentials(path: str, people: dict[str, Any]) -> dict[str, str]:
    if path.startswith("/admin/"):
        return dict(people["admin"])
    if path.startswith("/internal/"):
        return dict(people["internal"])
    return dict(people["player"])


# --- the findings, as they were found -----------------------------------------------------


def test_a_nul_in_the_oauth_state_is_422_not_500(client: TestClient, db: Session) -> None:
    """Public and unauthenticated: the state went to `SELECT ... FOR UPDATE` (500)."""
    before = snapshot(db)
    body = {"provider": "google", "code": "c", "state": "st\x00ate", "redirect_uri": REDIRECT}
    refused(client.post("/v1/auth/oauth/callback", json=body), "body", "state")
    r = client.get("/v1/auth/oauth/google/callback", params={"state": "st\x00ate", "code": "c"})
    refused(r, "query", "state")
    assert snapshot(db) == before


@pytest.mark.parametrize("method", ["post", "patch", "delete"])
@pytest.mark.parametrize("idempotency_key", [None, "guard-key-1"])
def test_a_nul_in_the_prediction_symbol_path_is_422_not_500(
    client: TestClient,
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    people: dict[str, Any],
    method: str,
    idempotency_key: str | None,
) -> None:
    open_day(db, clock, settings)
    headers = dict(people["player"])
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    before = snapshot(db)
    body = None if method == "delete" else {"choice": "UP"}
    r = client.request(method, "/v1/predictions/AA%00PL", json=body, headers=headers)
    refused(r, "path", "symbol")
    assert snapshot(db) == before


def test_a_nul_in_an_admin_adjustment_reason_is_422_and_credits_nothing(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    player_id = people["player_id"]
    before = snapshot(db)
    r = client.post(
        f"/admin/users/{player_id}/adjust-points",
        json={"delta": 5, "reason": "goodwill\x00"},
        headers=people["admin"],
    )
    refused(r, "body", "reason")
    assert snapshot(db) == before and balance_of(db, player_id) == 1000


def test_a_nul_in_the_job_filter_is_422_not_500(client: TestClient, people: dict[str, Any]) -> None:
    refused(
        client.get("/admin/jobs", params={"job": "session\x00open"}, headers=people["admin"]), "query", "job"
    )


def test_a_lone_surrogate_in_a_body_is_422_not_500(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    """`"\\ud800"` is valid JSON but not text: with an Idempotency-Key the body's canonical
    form could not be encoded (500); as UTF-8-encoded surrogate bytes it is the same."""
    url = f"/admin/users/{people['player_id']}/adjust-points"
    before = snapshot(db)
    headers = {**people["admin"], "Idempotency-Key": "guard-surrogate"}
    r = raw_json(client, "post", url, {"delta": 5, "reason": "half \ud800 a pair"}, headers)
    refused(r, "body", "reason", "surrogate_character")
    encoded = b'{"delta": 5, "reason": "half \xed\xa0\x80 a pair"}'
    r = client.post(url, content=encoded, headers={**headers, "Content-Type": "application/json"})
    refused(r, "body", "reason", "surrogate_character")
    assert snapshot(db) == before


# --- the rule -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "char", ["\x01", "\x08", "\x0b", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f"], ids=repr
)
def test_every_control_character_is_refused_in_a_body_string(
    client: TestClient, people: dict[str, Any], char: str
) -> None:
    r = client.post(
        f"/admin/users/{people['player_id']}/adjust-points",
        json={"delta": 5, "reason": f"bad{char}reason"},
        headers=people["admin"],
    )
    refused(r, "body", "reason")


def test_tabs_and_line_breaks_are_text_in_a_body_string(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    reason = "outage of 2026-11-23\r\n\tcompensation\nsecond line"
    r = client.post(
        f"/admin/users/{people['player_id']}/adjust-points",
        json={"delta": 5, "reason": reason},
        headers=people["admin"],
    )
    assert r.status_code == 200, r.text
    stored = db.execute(
        text("SELECT payload FROM crypto.audit_log WHERE id = :i"), {"i": r.json()["data"]["audit_id"]}
    ).scalar_one()
    assert stored["reason"] == reason


def test_line_breaks_are_refused_in_paths_queries_and_keys(
    client: TestClient, people: dict[str, Any]
) -> None:
    refused(client.get("/admin/jobs", params={"job": "a\nb"}, headers=people["admin"]), "query", "job")
    refused(client.get("/v1/settlements/2026-11-23%0A", headers=people["player"]), "path", "trading_day")
    r = client.post(
        f"/admin/users/{people['player_id']}/adjust-points",
        json={"delta": 5, "reason": "ok", "re\tason": "x"},
        headers=people["admin"],
    )
    refused(r, "body", "re\\u0009ason")


def test_keys_and_strings_are_checked_at_any_depth(client: TestClient, people: dict[str, Any]) -> None:
    r = client.put(
        "/v1/notifications/preferences",
        json={"categories": {"RESULT\x00S": True}, "quiet_hours": None},
        headers=people["player"],
    )
    refused(r, "body", "categories.RESULT\\u0000S")
    deep: Any = {"leaf": "x\x00"}
    for _ in range(50):
        deep = {"level": [deep]}
    r = client.post(
        "/admin/universe/upsert", json={"symbols": ["AAPL"], "extra": deep}, headers=people["admin"]
    )
    refused(r, "body", "extra." + "level.0." * 50 + "leaf")
    # A duplicated key: every occurrence is checked, not only the one a parser keeps.
    content = b'{"delta": 5, "reason": "a\\u0000", "reason": "fine"}'
    r = client.post(
        f"/admin/users/{people['player_id']}/adjust-points",
        content=content,
        headers={**people["admin"], "Content-Type": "application/json"},
    )
    refused(r, "body", "reason")


def test_a_query_name_and_an_unread_query_parameter_are_checked(
    client: TestClient, people: dict[str, Any]
) -> None:
    refused(
        client.get("/admin/jobs", params={"jo\x00b": "x"}, headers=people["admin"]), "query", "jo\\u0000b"
    )
    refused(
        client.get("/admin/jobs", params={"anything": "\x00"}, headers=people["admin"]), "query", "anything"
    )


def test_header_values_with_control_characters_are_422(client: TestClient, people: dict[str, Any]) -> None:
    r = client.get("/admin/jobs", headers={**people["admin"], "X-Probe": "a\x00b"})
    refused(r, "header", "x-probe")
    r = client.get("/admin/jobs", headers={**people["admin"], "X-Probe": "a\x1bb"})
    refused(r, "header", "x-probe")
    # A tab is allowed in a header value; bytes 0x80-0xFF are opaque (UTF-8 text).
    headers: dict[str, Any] = {**people["admin"], "X-Probe": "a\tb", "X-Name": "é€".encode()}
    assert client.get("/admin/jobs", headers=headers).status_code == 200


def test_the_answer_echoes_nothing_that_cannot_be_encoded(client: TestClient, people: dict[str, Any]) -> None:
    """A key with a surrogate and a NUL is shown escaped; the answer is plain ASCII JSON."""
    r = raw_json(client, "post", "/admin/universe/upsert", {"\ud800\x00" + "k" * 200: 1}, people["admin"])
    assert r.status_code == 422
    field = r.json()["error"]["details"][0]["field"]
    assert field == "\\ud800\\u0000" + "k" * 62
    assert r.content.isascii()


def test_many_offences_are_reported_ten_at_most(client: TestClient, people: dict[str, Any]) -> None:
    r = client.post("/admin/universe/upsert", json={"symbols": ["\x00"] * 500}, headers=people["admin"])
    assert r.status_code == 422
    details = r.json()["error"]["details"]
    assert [d["field"] for d in details] == [f"symbols.{i}" for i in range(10)]


# --- the body reaches the route as it was sent ---------------------------------------------


def test_a_clean_body_reaches_the_route_byte_for_byte(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings
) -> None:
    """The vendor webhook signs its raw body (HMAC): the replayed body must be the same bytes."""
    open_day(db, clock, settings, ["AAPL"])
    raw = b'{ "asof": "2026-11-23",\n\t"vendor_rev": 1, "prices": [{"symbol": "AAPL", "close": "99.5"}] }'
    timestamp = str(int(clock.now().timestamp()))
    signature = hmac.new(
        settings.vendor_webhook_secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256
    ).hexdigest()
    headers = {"X-Vendor-Timestamp": timestamp, "X-Vendor-Signature": signature, "Content-Type": "text/plain"}
    r = client.post("/internal/vendor/eod-event", content=raw, headers=headers)
    assert r.status_code == 200, r.text
    # The same route with a NUL in a string, whatever the declared type: refused before the
    # signature is even looked at.
    bad = raw.replace(b'"AAPL"', b'"AA\\u0000PL"')
    r = client.post("/internal/vendor/eod-event", content=bad, headers=headers)
    refused(r, "body", "prices.0.symbol")


def test_the_body_is_replayed_message_by_message_and_the_disconnect_after_it() -> None:
    """A body in three chunks: the app gets the same three messages, then what the server
    sends next (the disconnect)."""
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] == "http.disconnect":
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    chunks = [b'{"reason": "first ', b"half, second ", b'half"}']
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ] + [{"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/x", "root_path": "", "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
    }  # fmt: skip
    anyio.run(InputGuardMiddleware(app), scope, receive, send)
    assert [m.get("body") for m in seen[:3]] == chunks and seen[3] == {"type": "http.disconnect"}
    assert sent[0]["status"] == 204


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("text/plain", b"reason=\x00 not json at all"),
        ("application/json", b'{"reason": "unterminated \x00'),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n\x00\r\n--x--",
        ),
    ],
)
def test_a_body_that_is_not_json_is_left_to_the_route(
    client: TestClient, people: dict[str, Any], content_type: str, content: bytes
) -> None:
    r = client.post(
        f"/admin/users/{people['player_id']}/adjust-points",
        content=content,
        headers={**people["admin"], "Content-Type": content_type},
    )
    assert 400 <= r.status_code < 500, r.text
    assert all(d.get("type") != "control_character" for d in r.json()["error"]["details"] or [])


# --- other odd input, checked ad hoc (none may be a 500) -------------------------------------


def test_a_deeply_nested_body_is_not_a_500(client: TestClient, people: dict[str, Any]) -> None:
    nested = b"[" * 30_000 + b"]" * 30_000
    r = client.post(
        "/admin/universe/upsert",
        content=nested,
        headers={**people["admin"], "Content-Type": "application/json"},
    )
    assert 400 <= r.status_code < 500, r.text


@pytest.mark.parametrize("segment", ["%ff", "%c0%80", "%ed%a0%80", "%fe%ff"])
def test_invalid_utf8_in_a_path_is_not_a_500(
    client: TestClient,
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    people: dict[str, Any],
    segment: str,
) -> None:
    """Percent-escapes that are not UTF-8 are decoded as U+FFFD (as uvicorn does): text,
    not a control character; the route answers it (not in the universe)."""
    open_day(db, clock, settings)
    for method in ("post", "patch", "delete"):
        r = client.request(
            method, f"/v1/predictions/{segment}", json={"choice": "UP"}, headers=people["player"]
        )
        assert 400 <= r.status_code < 500, r.text
    r = client.get(f"/admin/jobs?job={segment}", headers=people["admin"])
    assert r.status_code == 200, r.text


def test_very_long_strings_are_422_not_500(client: TestClient, people: dict[str, Any]) -> None:
    long = "A" * 60_000
    r = client.post(f"/v1/predictions/{long}", json={"choice": "UP"}, headers=people["player"])
    assert (r.status_code, error_code(r)) == (422, "SYS_422")
    r = client.get("/admin/jobs", params={"job": long}, headers=people["admin"])
    assert (r.status_code, error_code(r)) == (422, "SYS_422")
    r = client.post("/admin/universe/upsert", json={"symbols": ["A" * 60_000]}, headers=people["admin"])
    assert (r.status_code, error_code(r)) == (422, "SYS_422")


# --- dates outside the calendar -------------------------------------------------------------


def _out_of_range(r: Any, day: str) -> None:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "CYCLE_005", r.text
    assert error["details"]["date"] == day
    assert error["details"]["supported_from"] == "2020-01-02"
    assert date.fromisoformat(error["details"]["supported_until"]) >= date(2032, 1, 1)


@pytest.mark.parametrize(
    ("trading_day", "shown"),
    [
        (0, "1970-01-01"),
        ("2019-06-03", "2019-06-03"),
        ("9999-12-31", "9999-12-31"),
        ("2040-01-02", "2040-01-02"),
    ],
)
def test_a_universe_upsert_outside_the_calendar_is_CYCLE_005(
    client: TestClient, db: Session, people: dict[str, Any], trading_day: Any, shown: str
) -> None:
    before = snapshot(db)
    r = client.post("/admin/universe/upsert", json={"trading_day": trading_day}, headers=people["admin"])
    _out_of_range(r, shown)
    assert {k: v for k, v in snapshot(db).items() if k != "crypto.audit_log"} == {
        k: v for k, v in before.items() if k != "crypto.audit_log"
    }


@pytest.mark.parametrize(
    "path",
    [
        "/internal/session/flip-to-predict",
        "/internal/session/cutoff",
        "/internal/eod/fetch",
        "/internal/universe/upsert",
    ],
)
@pytest.mark.parametrize("day", ["2019-06-03", "2019-12-31", "9999-12-31", "9999-12-02"])
def test_an_internal_step_outside_the_calendar_is_CYCLE_005_a_refusal_not_a_failure(
    client: TestClient, db: Session, settings: Settings, caplog: pytest.LogCaptureFixture, path: str, day: str
) -> None:
    """The job run records the refusal (CYCLE_005), not a crash, and no operator is alerted."""
    r = client.post(path, json={"trading_day": day}, headers=internal(settings))
    _out_of_range(r, day)
    errors = db.execute(text("SELECT error FROM crypto.job_runs WHERE status = 'FAILED'")).scalars().all()
    assert errors and all(e.startswith("CYCLE_005") for e in errors), errors
    assert not [rec for rec in caplog.records if rec.name == "myapi.alerts"]


@pytest.mark.parametrize(
    "params",
    [
        {"to": "0001-01-01"},
        {"to": "9999-12-31"},
        {"from": "0001-01-01", "to": "0001-01-02"},
        {"from": "9999-12-30"},
    ],
)
def test_a_dashboard_range_outside_the_calendar_is_CYCLE_005(
    client: TestClient, people: dict[str, Any], params: dict[str, str]
) -> None:
    r = client.get("/admin/dashboard", params=params, headers=people["admin"])
    _out_of_range(r, params.get("from", params.get("to", "")))


def test_the_calendar_names_the_range_it_supports_and_refuses_past_it() -> None:
    cal = MarketCalendar(date(2026, 6, 1), start=date(2026, 1, 1), end=date(2026, 12, 31))
    first, until = cal.supported_range()
    assert first == date(2026, 1, 2) and until == date(2029, 12, 31) - timedelta(days=30)
    for day in (
        until + timedelta(days=1),
        date.max,
        date.max - timedelta(days=29),
        date.min,
        first - timedelta(days=1),
    ):
        with pytest.raises(CalendarRangeError) as caught:
            cal.is_trading_day(day)
        assert caught.value.details == {
            "date": day.isoformat(), "supported_from": "2026-01-02", "supported_until": until.isoformat(),
        }  # fmt: skip
    for instant in (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)):
        with pytest.raises(CalendarRangeError):
            cal.trading_day_for(instant)
    # The last supported day is answered; the calendar extends itself, and its range with it.
    assert cal.is_trading_day(until) is False  # Saturday 2029-12-01
    assert cal.supported_range()[1] > until


# --- every operation of the OpenAPI document --------------------------------------------------


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def string_fields(
    schema: dict[str, Any], spec: dict[str, Any], depth: int = 0
) -> list[tuple[str | int, ...]]:
    """The locations of every string a schema holds (object properties, map values, array
    items, through $ref and anyOf/oneOf/allOf); `k` stands for a map's key."""
    schema = _resolve(schema, spec)
    if depth > 8:
        return []
    found: list[tuple[str | int, ...]] = []
    if schema.get("type") == "string" or (
        schema.get("enum") and all(isinstance(v, str) for v in schema["enum"])
    ):
        found.append(())
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            found.extend(string_fields(sub, spec, depth + 1))
    for name, sub in schema.get("properties", {}).items():
        found.extend((name, *loc) for loc in string_fields(sub, spec, depth + 1))
    if isinstance(schema.get("additionalProperties"), dict):
        found.extend(("k", *loc) for loc in string_fields(schema["additionalProperties"], spec, depth + 1))
    if isinstance(schema.get("items"), dict):
        found.extend((0, *loc) for loc in string_fields(schema["items"], spec, depth + 1))
    return list(dict.fromkeys(found))


def document_at(loc: tuple[str | int, ...], leaf: str) -> Any:
    """The smallest document with `leaf` at `loc`."""
    value: Any = leaf
    for part in reversed(loc):
        value = [value] if isinstance(part, int) else {part: value}
    return value


def _url(
    spec: dict[str, Any], path: str, operation: dict[str, Any], bad: tuple[str, str] | None = None
) -> str:
    """The path with a valid value for each parameter (`bad` = (name, value): that one instead)."""
    url = path
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "path":
            continue
        schema = _resolve(parameter.get("schema", {}), spec)
        if bad and bad[0] == parameter["name"]:
            value = quote(bad[1], safe="")
        elif schema.get("type") == "integer":
            value = "1"
        elif schema.get("enum"):
            value = str(schema["enum"][0])
        else:
            value = SAMPLE.get(schema.get("format", ""), "AAPL")
        url = url.replace("{" + parameter["name"] + "}", value)
    return url


def _probes(
    spec: dict[str, Any], bad: str, where: frozenset[str] = frozenset({"path", "query", "header", "body"})
) -> Iterator[tuple[str, str, str, dict[str, Any], str, str]]:
    """(method, path, url, request kwargs, location, field): one offending value per
    parameter and body string of every operation; an operation without a JSON body gets
    an undocumented one (every body is checked, documented or not)."""
    for method, path, operation in _operations(spec):
        for parameter in operation.get("parameters", []):
            name, location = parameter["name"], parameter["in"]
            if location not in where:
                continue
            url = _url(spec, path, operation)
            if location == "path":
                yield method, path, _url(spec, path, operation, (name, f"A{bad}B")), {}, "path", name
            elif location == "query":
                yield method, path, url, {"params": {name: f"x{bad}y"}}, "query", name
            elif location == "header":  # header values are bytes
                yield (
                    method,
                    path,
                    url,
                    {"headers": {name: f"x{bad}y".encode("latin-1")}},
                    "header",
                    name.lower(),
                )
        if "body" not in where:
            continue
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        fields = string_fields(content["schema"], spec) if content else []
        for loc in fields or [("probe",)]:
            field = ".".join(str(p) for p in loc) if loc else "body"
            kwargs = {"content": json.dumps(document_at(loc, f"x{bad}y")).encode()}
            yield method, path, _url(spec, path, operation), kwargs, "body", field


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ("\x00", frozenset({"path", "query", "header", "body"})),
        ("\x1b", frozenset({"path", "query", "header", "body"})),
        # C1: a header's bytes 0x80-0x9F are opaque (part of UTF-8 text), not checked there.
        ("\x85", frozenset({"path", "query", "body"})),
    ],
    ids=["NUL", "ESC", "NEL"],
)
def test_every_operation_refuses_a_control_character_in_every_parameter_and_body_string(
    client: TestClient,
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    people: dict[str, Any],
    bad: str,
    where: frozenset[str],
) -> None:
    """The document's every operation, each path, query and header parameter and each string
    of its JSON body (at any depth), with credentials that pass its guard: a 422 naming
    the field, never a 5xx, and not a row changed."""
    open_day(db, clock, settings)
    spec = client.app.openapi()  # type: ignore[attr-defined]
    assert len(list(_operations(spec))) >= 80
    before = snapshot(db)
    wrong, probes = [], 0
    for method, path, url, kwargs, location, field in _probes(spec, bad, where):
        headers = {
            **credentials(path, people),
            "Content-Type": "application/json",
            **kwargs.pop("headers", {}),
        }
        r = client.request(method, url, headers=headers, **kwargs)
        probes += 1
        wanted = {"location": location, "field": field, "type": "control_character"}
        details = r.json()["error"]["details"] if r.status_code == 422 else []
        if not any({k: d.get(k) for k in wanted} == wanted for d in details):
            wrong.append(f"{method.upper()} {path} {location}.{field}: {r.status_code} {r.text[:160]}")
    assert wrong == []
    assert probes >= (190 if "header" in where else 180)
    assert snapshot(db) == before


def test_every_operation_refuses_a_lone_surrogate_in_every_body_string(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    spec = client.app.openapi()  # type: ignore[attr-defined]
    before = snapshot(db)
    wrong = []
    for method, path, url, kwargs, _location, field in _probes(spec, "\ud800", frozenset({"body"})):
        headers = {**credentials(path, people), "Content-Type": "application/json"}
        r = client.request(method, url, headers=headers, **kwargs)
        if r.status_code != 422 or r.json()["error"]["details"][0]["type"] != "surrogate_character":
            wrong.append(f"{method.upper()} {path} {field}: {r.status_code} {r.text[:160]}")
    assert wrong == []
    assert snapshot(db) == before


def test_every_operation_answers_a_very_long_string_without_a_5xx(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings, people: dict[str, Any]
) -> None:
    """8,000 characters in each parameter and body string (the body within the size limit):
    a 4xx from the schema's own bounds, never a 5xx from a column or an index."""
    open_day(db, clock, settings)
    spec = client.app.openapi()  # type: ignore[attr-defined]
    long = "Z" * 8_000
    wrong = []
    # Not headers: a server refuses an 8 kB header line before the app sees it.
    for method, path, url, kwargs, location, field in _probes(
        spec, long, frozenset({"path", "query", "body"})
    ):
        headers = {**credentials(path, people), "Content-Type": "application/json"}
        r = client.request(method, url, headers=headers, **kwargs)
        if r.status_code >= 500:
            wrong.append(f"{method.upper()} {path} {location}.{field}: {r.status_code} {r.text[:160]}")
    assert wrong == []


def test_through_a_real_server_the_decoded_path_and_query_are_checked(app: FastAPI) -> None:
    """uvicorn percent-decodes the path itself (invalid UTF-8 as U+FFFD): what the guard
    checks is what the routes get. Before any guard: no token is needed to be refused."""
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        refused(http.post("/v1/predictions/AA%00PL", json={"choice": "UP"}), "path", "symbol")
        refused(http.get("/v1/auth/oauth/google/callback?state=a%00b&code=c"), "query", "state")
        refused(http.post("/v1/auth/oauth/callback", content=b'{"state": "a\\u0000"}'), "body", "state")
        assert http.post("/v1/predictions/%ff", json={"choice": "UP"}).status_code == 401
