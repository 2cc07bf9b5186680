"""GET /admin/queues, the DLQ peek (messages stay where they are) and the redrive back to
the source queue, against the real SQS wire endpoint (the pipeline's own queues)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from myapi.main import create_app
from myapi.providers.queue import OutgoingMessage, SqsQueue, dlq_name_for
from tests.support.app import build_test_container, make_settings
from tests.support.http import bearer, dev_login, error_code
from tests.support.pipeline import Pipeline

KEY = "settlement_compute"


def _names(p: Pipeline) -> tuple[str, str]:
    source = p.settings.queue_names[KEY]
    return source, dlq_name_for(source)


def _dead_letters(p: Pipeline) -> tuple[str, str]:
    """Two messages in the settlement_compute DLQ: a settlement request that failed past
    maxReceiveCount (3), and a poison message put there directly. Returns their ids."""
    queue: SqsQueue = p.container.queue()
    source, dlq = _names(p)
    body = json.dumps({"type": "settlement.requested", "payload": {"trading_day": "2026-11-20"}})
    queue.send_batch(source, [OutgoingMessage(body, attributes={"origin": "test"})])
    receives = 0
    for _ in range(10):  # a consumer that keeps failing: receive, never delete
        got = queue.receive(source, wait_time_s=0, visibility_timeout_s=0)
        if not got:
            break
        receives += 1
    assert receives == 3  # then SQS moved it to the DLQ
    queue.send_batch(dlq, [OutgoingMessage("not json at all")])
    letters = _peek(queue, dlq)
    failed = next(m.message_id for m in letters if m.body == body)
    poison = next(m.message_id for m in letters if m.body == "not json at all")
    return failed, poison


def _peek(queue: SqsQueue, name: str) -> list[Any]:
    got = queue.receive(name, 10, 0, visibility_timeout_s=0)
    return got


def _depth(p: Pipeline, name: str) -> dict[str, int]:
    queue: SqsQueue = p.container.queue()
    return queue.depth(name)


def test_the_queue_overview_lists_every_queue_with_its_dlq_depth(
    pipeline: Pipeline, ops_api: TestClient, admin: dict[str, str]
) -> None:
    _dead_letters(pipeline)
    r = ops_api.get("/admin/queues", headers=admin)
    assert r.status_code == 200, r.text
    rows = {row["key"]: row for row in r.json()["data"]}
    assert set(rows) == set(pipeline.settings.queue_names)
    for key, row in rows.items():
        name = pipeline.settings.queue_names[key]
        assert (row["queue"]["name"], row["dlq"]["name"]) == (name, dlq_name_for(name))
        assert row["queue"]["exists"] and row["dlq"]["exists"]
    assert rows[KEY]["dlq"]["visible"] == 2 and rows[KEY]["queue"]["visible"] == 0
    assert rows["eod_fetch"]["dlq"]["visible"] == 0


def test_peek_shows_dead_letters_and_leaves_them_in_place(
    pipeline: Pipeline, ops_api: TestClient, admin: dict[str, str]
) -> None:
    failed, poison = _dead_letters(pipeline)
    _source, dlq = _names(pipeline)
    for _ in range(2):  # twice: the first look took nothing away
        r = ops_api.get(f"/admin/queues/{KEY}/dlq?limit=10", headers=admin)
        assert r.status_code == 200, r.text
        letters = {m["message_id"]: m for m in r.json()["data"]}
        assert set(letters) == {failed, poison}
        assert letters[failed]["body_is_json"] is True
        assert letters[failed]["body"] == {
            "type": "settlement.requested",
            "payload": {"trading_day": "2026-11-20"},
        }
        assert letters[failed]["attributes"] == {"origin": "test"}
        assert letters[failed]["receive_count"] >= 1
        assert letters[failed]["sent_at"].endswith("+09:00")
        assert (letters[poison]["body"], letters[poison]["body_is_json"]) == ("not json at all", False)
        # Visible again at once: nothing is left hidden in flight.
        assert _depth(pipeline, dlq) == {"visible": 2, "in_flight": 0, "delayed": 0}

    one = ops_api.get(f"/admin/queues/{KEY}/dlq?limit=1", headers=admin).json()["data"]
    assert len(one) == 1
    assert _depth(pipeline, dlq)["visible"] == 2


def test_redrive_moves_the_named_messages_back_and_reports_each(
    pipeline: Pipeline, ops_api: TestClient, admin: dict[str, str]
) -> None:
    failed, poison = _dead_letters(pipeline)
    source, dlq = _names(pipeline)
    r = ops_api.post(
        f"/admin/queues/{KEY}/dlq/redrive", json={"message_ids": [failed, "no-such-message"]}, headers=admin
    )
    assert r.status_code == 200, r.text
    out = r.json()["data"]
    assert (out["key"], out["queue"], out["dlq"], out["moved"]) == (KEY, source, dlq, 1)
    assert [(o["message_id"], o["status"]) for o in out["results"]] == [
        (failed, "MOVED"), ("no-such-message", "NOT_FOUND")
    ]  # fmt: skip
    # The named one is back on its queue, body and attributes kept; the other stays, visible.
    queue: SqsQueue = pipeline.container.queue()
    [back] = queue.receive(source, 10, 0)
    assert json.loads(back.body)["payload"] == {"trading_day": "2026-11-20"}
    assert back.attributes == {"origin": "test"}
    queue.delete(source, back.receipt_handle)
    assert _depth(pipeline, dlq) == {"visible": 1, "in_flight": 0, "delayed": 0}

    # Without ids: up to `limit` of whatever is there.
    r = ops_api.post(f"/admin/queues/{KEY}/dlq/redrive", json={"limit": 10}, headers=admin)
    assert r.status_code == 200, r.text
    assert [(o["message_id"], o["status"]) for o in r.json()["data"]["results"]] == [(poison, "MOVED")]
    assert _depth(pipeline, dlq)["visible"] == 0
    assert [m.body for m in queue.receive(source, 10, 0)] == ["not json at all"]
    # An empty DLQ: nothing to move.
    r = ops_api.post(f"/admin/queues/{KEY}/dlq/redrive", json={}, headers=admin)
    assert r.status_code == 200 and r.json()["data"]["results"] == []


def test_a_redriven_message_is_handled_by_the_worker(
    pipeline: Pipeline, ops_api: TestClient, admin: dict[str, str]
) -> None:
    """The redrive's message is the original envelope: the worker runs its job."""
    queue: SqsQueue = pipeline.container.queue()
    source = pipeline.settings.queue_names["eod_fetch"]
    envelope = {"type": "eod.fetch.requested", "version": 1, "id": "x-1", "attempt": 1,
                "payload": {"trading_day": "2026-11-20"}}  # fmt: skip
    queue.send_batch(dlq_name_for(source), [OutgoingMessage(json.dumps(envelope))])
    r = ops_api.post("/admin/queues/eod_fetch/dlq/redrive", json={"limit": 5}, headers=admin)
    assert r.json()["data"]["moved"] == 1
    assert pipeline.worker("eod_fetch").drain() == 1
    assert pipeline.scalar("SELECT count(*) FROM crypto.job_runs WHERE job = 'eod.fetch'") == 1


def test_unknown_queues_and_bad_input_are_refused_with_envelopes(
    pipeline: Pipeline, ops_api: TestClient, admin: dict[str, str]
) -> None:
    _failed, _poison = _dead_letters(pipeline)
    _source, dlq = _names(pipeline)
    for method, path in (("GET", "/admin/queues/nope/dlq"), ("POST", "/admin/queues/nope/dlq/redrive")):
        r = ops_api.request(method, path, headers=admin, json={} if method == "POST" else None)
        assert r.status_code == 404, r.text
        assert r.json()["success"] is False and error_code(r) == "QUEUE_404"
        assert KEY in r.json()["error"]["details"]["known"]
    for query in ("limit=0", "limit=101", "limit=abc"):
        r = ops_api.get(f"/admin/queues/{KEY}/dlq?{query}", headers=admin)
        assert r.status_code == 422 and error_code(r) == "SYS_422", query
    for body in (
        {"limit": 0}, {"limit": True}, {"limit": "5"}, {"limit": 1.5}, {"message_ids": []},
        {"message_ids": ["has space"]}, {"message_ids": "abc"}, {"all": True},
    ):  # fmt: skip
        r = ops_api.post(f"/admin/queues/{KEY}/dlq/redrive", json=body, headers=admin)
        assert r.status_code == 422 and error_code(r) == "SYS_422", body
    assert _depth(pipeline, dlq)["visible"] == 2  # nothing moved


@pytest.fixture
def unreachable_api(pipeline: Pipeline) -> Iterator[TestClient]:
    """The app with SQS at a port nobody listens on (the database as usual)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    own = make_settings(pipeline.settings.database_url, f"http://127.0.0.1:{port}", sqs_connect_timeout_s=0.5)
    container = build_test_container(own, pipeline.clock, pipeline.engine)
    with TestClient(create_app(container=container), raise_server_exceptions=False) as client:
        yield client
    container.oauth_http().close()
    container.eod_http().close()


def test_sqs_unreachable_is_a_503_envelope(unreachable_api: TestClient) -> None:
    admin = bearer(dev_login(unreachable_api, "ops.admin@example.com", role="ADMIN")["access_token"])
    for method, path in (
        ("GET", "/admin/queues"),
        ("GET", f"/admin/queues/{KEY}/dlq"),
        ("POST", f"/admin/queues/{KEY}/dlq/redrive"),
    ):
        r = unreachable_api.request(method, path, headers=admin, json={} if method == "POST" else None)
        assert r.status_code == 503, r.text
        assert r.json()["success"] is False and error_code(r) == "QUEUE_503"
