"""Predictions: submit/change/cancel rules, every error code, reads, and BOLA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from tests.support.factories import open_day
from tests.support.http import bearer, dev_login


@pytest.fixture
def day_open(db: Session, clock: FrozenClock, settings: Settings) -> None:
    open_day(db, clock, settings)


def submit(
    client: TestClient, token: str, symbol: str, choice: str = "UP", **headers: str
) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = client.post(
        f"/v1/predictions/{symbol}", json={"choice": choice}, headers={**bearer(token), **headers}
    )
    return r.status_code, r.json()


@pytest.mark.usefixtures("day_open")
def test_submit_is_accepted_with_the_baseline_a_slot_and_an_outbox_event(
    client: TestClient, db: Session
) -> None:
    player = dev_login(client, "p1@example.com")
    status, body = submit(client, player["access_token"], "aapl", "UP")
    assert status == 202, body
    data = body["data"]
    assert data["status"] == "accepted"
    assert (data["trading_day"], data["symbol"], data["choice"]) == ("2026-11-23", "AAPL", "UP")
    assert data["submitted_at"] == "2026-11-23T10:00:00+09:00"
    assert data["remaining_slots"] == 2
    row = db.execute(
        text("SELECT status, baseline_price, baseline_at FROM crypto.predictions WHERE id = :i"),
        {"i": data["prediction_id"]},
    ).one()
    assert row.status == "PENDING" and row.baseline_price == Decimal("100.125000")
    event = db.execute(
        text("SELECT topic, payload, group_id, dedup_id FROM crypto.outbox ORDER BY id DESC LIMIT 1")
    ).one()
    assert event.topic == "prediction.submitted"
    assert event.payload["prediction_id"] == data["prediction_id"] and event.payload["symbol"] == "AAPL"
    assert event.group_id == f"user-{player['user']['id']}" and event.dedup_id


@pytest.mark.usefixtures("day_open")
def test_symbol_not_in_universe_is_PRED_004(client: TestClient) -> None:
    player = dev_login(client, "p2@example.com")
    status, body = submit(client, player["access_token"], "ZZZZ")
    assert status == 404 and body["error"]["code"] == "PRED_004"
    status, body = submit(client, player["access_token"], "bad!")
    assert status == 404 and body["error"]["code"] == "PRED_004"


@pytest.mark.usefixtures("day_open")
def test_second_prediction_on_a_symbol_is_PRED_005_and_costs_nothing(client: TestClient) -> None:
    player = dev_login(client, "p3@example.com")
    assert submit(client, player["access_token"], "MSFT")[0] == 202
    status, body = submit(client, player["access_token"], "MSFT", "DOWN")
    assert status == 409 and body["error"]["code"] == "PRED_005"
    slots = client.get("/v1/ads/status", headers=bearer(player["access_token"])).json()["data"]
    assert slots["used"] == 1


def test_before_the_session_opens_is_PRED_001(client: TestClient) -> None:
    player = dev_login(client, "p4@example.com")
    status, body = submit(client, player["access_token"], "AAPL")
    assert status == 409 and body["error"]["code"] == "PRED_001"


@pytest.mark.usefixtures("day_open")
def test_after_the_cutoff_is_PRED_001_even_before_the_phase_flip(
    client: TestClient, clock: FrozenClock, db: Session
) -> None:
    player = dev_login(client, "p5@example.com")
    assert submit(client, player["access_token"], "AAPL")[0] == 202
    clock.set(datetime(2026, 11, 23, 14, 25, tzinfo=UTC))  # 23:25 KST, the cutoff instant
    assert db.execute(text("SELECT phase FROM crypto.session_control")).scalar_one() == "PREDICT"
    player = dev_login(client, "p5@example.com")  # the morning's access token has expired
    status, body = submit(client, player["access_token"], "MSFT")
    assert status == 409 and body["error"]["code"] == "PRED_001"
    assert body["error"]["details"]["predict_cutoff_at"]
    r = client.patch("/v1/predictions/AAPL", json={"choice": "DOWN"}, headers=bearer(player["access_token"]))
    assert r.status_code == 409 and r.json()["error"]["code"] == "PRED_001"
    r = client.delete("/v1/predictions/AAPL", headers=bearer(player["access_token"]))
    assert r.status_code == 409 and r.json()["error"]["code"] == "PRED_001"


@pytest.mark.usefixtures("day_open")
def test_one_second_before_the_cutoff_is_still_accepted(client: TestClient, clock: FrozenClock) -> None:
    player = dev_login(client, "p6@example.com")
    clock.set(datetime(2026, 11, 23, 14, 24, 59, tzinfo=UTC))
    player = dev_login(client, "p6@example.com")
    assert submit(client, player["access_token"], "AAPL")[0] == 202


@pytest.mark.usefixtures("day_open")
def test_slots_run_out_with_PRED_003_while_the_cooldown_runs(client: TestClient) -> None:
    player = dev_login(client, "p7@example.com")
    for symbol in ("AAPL", "MSFT", "NVDA"):
        assert submit(client, player["access_token"], symbol)[0] == 202
    status, body = submit(client, player["access_token"], "AMZN")
    assert status == 409 and body["error"]["code"] == "PRED_003"
    assert body["error"]["details"]["cooldown_until"]


@pytest.mark.usefixtures("day_open")
def test_change_costs_no_slot_and_cancel_refunds_it(client: TestClient) -> None:
    player = dev_login(client, "p8@example.com")
    token = player["access_token"]
    submit(client, token, "AAPL", "UP")
    r = client.patch("/v1/predictions/AAPL", json={"choice": "DOWN"}, headers=bearer(token))
    assert r.status_code == 200 and r.json()["data"]["choice"] == "DOWN"
    assert client.get("/v1/ads/status", headers=bearer(token)).json()["data"]["used"] == 1
    r = client.delete("/v1/predictions/AAPL", headers=bearer(token))
    assert r.status_code == 200 and r.json()["data"] == {
        "symbol": "AAPL",
        "cancelled": True,
        "remaining_slots": 3,
    }
    mine = client.get("/v1/predictions/me", headers=bearer(token)).json()["data"]
    assert mine["predictions"] == []
    # A cancelled prediction can be made again.
    status, body = submit(client, token, "AAPL", "UP")
    assert status == 202 and body["data"]["remaining_slots"] == 2
    r = client.patch("/v1/predictions/MSFT", json={"choice": "DOWN"}, headers=bearer(token))
    assert r.status_code == 404 and r.json()["error"]["code"] == "PRED_404"
    r = client.delete("/v1/predictions/MSFT", headers=bearer(token))
    assert r.status_code == 404


@pytest.mark.usefixtures("day_open")
def test_invalid_choice_is_422(client: TestClient) -> None:
    player = dev_login(client, "p9@example.com")
    status, body = submit(client, player["access_token"], "AAPL", "SIDEWAYS")
    assert status == 422 and body["error"]["details"][0]["field"] == "choice"


@pytest.mark.usefixtures("day_open")
def test_my_day_history_and_stats(client: TestClient, db: Session) -> None:
    player = dev_login(client, "p10@example.com")
    token = player["access_token"]
    for symbol in ("AAPL", "MSFT", "NVDA"):
        submit(client, token, symbol)
    mine = client.get("/v1/predictions/me", params={"trading_day": "2026-11-23"}, headers=bearer(token))
    assert [p["symbol"] for p in mine.json()["data"]["predictions"]] == ["AAPL", "MSFT", "NVDA"]
    page = client.get("/v1/predictions/history", params={"limit": 2}, headers=bearer(token)).json()
    assert len(page["data"]) == 2 and page["meta"]["total"] == 3 and page["meta"]["limit"] == 2
    page2 = client.get("/v1/predictions/history", params={"limit": 2, "offset": 2}, headers=bearer(token))
    assert len(page2.json()["data"]) == 1
    # Settle them by hand: newest first -> CORRECT, CORRECT, INCORRECT
    uid = player["user"]["id"]
    for symbol, status, points in (
        ("AAPL", "INCORRECT", 0),
        ("MSFT", "CORRECT", 50),
        ("NVDA", "CORRECT", 50),
    ):
        db.execute(
            text(
                "UPDATE crypto.predictions SET status = :st, points_awarded = :pt, settled_at = now() "
                "WHERE user_id = :u AND symbol = :s"
            ),
            {"st": status, "pt": points, "u": uid, "s": symbol},
        )
    db.flush()
    stats = client.get("/v1/predictions/stats", headers=bearer(token)).json()["data"]
    assert stats == {
        "total": 3, "pending": 0, "correct": 2, "incorrect": 1, "void": 0,
        "win_rate": 0.6667, "current_streak": 2, "best_streak": 2, "points_won": 100,
        "by_symbol": [
            {"symbol": "AAPL", "correct": 0, "incorrect": 1, "void": 0, "win_rate": 0.0},
            {"symbol": "MSFT", "correct": 1, "incorrect": 0, "void": 0, "win_rate": 1.0},
            {"symbol": "NVDA", "correct": 1, "incorrect": 0, "void": 0, "win_rate": 1.0},
        ],
        "badges": [
            {"code": "FIRST_WIN", "title": "First win", "description": "A prediction settled correct"}
        ],
    }  # fmt: skip
    r = client.get("/v1/predictions/history", params={"status": "CORRECT"}, headers=bearer(token))
    assert r.json()["meta"]["total"] == 2


@pytest.mark.usefixtures("day_open")
def test_a_player_cannot_see_or_change_another_players_predictions(client: TestClient, db: Session) -> None:
    alice = dev_login(client, "alice.pred@example.com")
    bob = dev_login(client, "bob.pred@example.com")
    submit(client, alice["access_token"], "AAPL", "UP")
    assert (
        client.get("/v1/predictions/me", headers=bearer(bob["access_token"])).json()["data"]["predictions"]
        == []
    )
    assert (
        client.get("/v1/predictions/history", headers=bearer(bob["access_token"])).json()["meta"]["total"]
        == 0
    )
    r = client.patch("/v1/predictions/AAPL", json={"choice": "DOWN"}, headers=bearer(bob["access_token"]))
    assert r.status_code == 404
    r = client.delete("/v1/predictions/AAPL", headers=bearer(bob["access_token"]))
    assert r.status_code == 404
    row = db.execute(
        text("SELECT choice, status FROM crypto.predictions WHERE user_id = :u"), {"u": alice["user"]["id"]}
    ).one()
    assert (row.choice, row.status) == ("UP", "PENDING")
    # Bob predicting the same symbol is his own prediction, not a duplicate of Alice's.
    assert submit(client, bob["access_token"], "AAPL", "DOWN")[0] == 202


# --- Idempotency-Key -----------------------------------------------------------------


@pytest.mark.usefixtures("day_open")
def test_same_key_and_body_replays_the_original_response(client: TestClient, db: Session) -> None:
    player = dev_login(client, "idem1@example.com")
    first = client.post(
        "/v1/predictions/AAPL", json={"choice": "UP"},
        headers={**bearer(player["access_token"]), "Idempotency-Key": "k-123"},
    )  # fmt: skip
    second = client.post(
        "/v1/predictions/AAPL", json={"choice": "UP"},
        headers={**bearer(player["access_token"]), "Idempotency-Key": "k-123"},
    )  # fmt: skip
    assert first.status_code == second.status_code == 202
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    count = db.execute(
        text("SELECT count(*) FROM crypto.predictions WHERE user_id = :u"), {"u": player["user"]["id"]}
    )
    assert count.scalar_one() == 1


@pytest.mark.usefixtures("day_open")
def test_the_same_json_written_differently_is_the_same_request(client: TestClient, db: Session) -> None:
    player = dev_login(client, "idem5@example.com")
    headers = {
        **bearer(player["access_token"]),
        "Idempotency-Key": "k-canon",
        "Content-Type": "application/json",
    }
    first = client.post("/v1/predictions/AAPL", content=b'{"choice":"UP"}', headers=headers)
    second = client.post("/v1/predictions/AAPL", content=b'{ "choice" :\n  "UP" }', headers=headers)
    assert first.status_code == second.status_code == 202
    assert second.headers["idempotent-replayed"] == "true" and second.json() == first.json()
    r = client.post("/v1/predictions/AAPL", content=b'{"choice": "DOWN"}', headers=headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "IDEM_003"
    count = db.execute(
        text("SELECT count(*) FROM crypto.predictions WHERE user_id = :u"), {"u": player["user"]["id"]}
    )
    assert count.scalar_one() == 1


@pytest.mark.usefixtures("day_open")
def test_a_key_stored_with_the_raw_body_fingerprint_still_replays(client: TestClient, db: Session) -> None:
    """Keys stored before fingerprints became canonical hold the hash of the body as sent:
    a retry of that request within their 24 h still replays."""
    import hashlib

    player = dev_login(client, "idem6@example.com")
    headers = {
        **bearer(player["access_token"]),
        "Idempotency-Key": "k-legacy",
        "Content-Type": "application/json",
    }
    body = b'{ "choice": "UP" }'
    assert client.post("/v1/predictions/AAPL", content=body, headers=headers).status_code == 202
    digest = hashlib.sha256()
    for part in (b"POST", b"/v1/predictions/AAPL", body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    db.execute(text("UPDATE crypto.idempotency_keys SET request_hash = :h"), {"h": digest.hexdigest()})
    again = client.post("/v1/predictions/AAPL", content=body, headers=headers)
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"


@pytest.mark.usefixtures("day_open")
def test_same_key_with_a_different_body_is_422(client: TestClient) -> None:
    player = dev_login(client, "idem2@example.com")
    headers = {**bearer(player["access_token"]), "Idempotency-Key": "k-456"}
    assert client.post("/v1/predictions/AAPL", json={"choice": "UP"}, headers=headers).status_code == 202
    r = client.post("/v1/predictions/AAPL", json={"choice": "DOWN"}, headers=headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "IDEM_003"
    r = client.post("/v1/predictions/MSFT", json={"choice": "UP"}, headers=headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "IDEM_003"


@pytest.mark.usefixtures("day_open")
def test_keys_are_per_player_and_expire_after_24h(client: TestClient, clock: FrozenClock) -> None:
    a = dev_login(client, "idem3@example.com")
    b = dev_login(client, "idem4@example.com")
    for player in (a, b):  # the same key string is independent per player
        r = client.post(
            "/v1/predictions/AAPL", json={"choice": "UP"},
            headers={**bearer(player["access_token"]), "Idempotency-Key": "shared"},
        )  # fmt: skip
        assert r.status_code == 202 and "idempotent-replayed" not in r.headers
    clock.advance(timedelta(hours=24, seconds=1))
    a = dev_login(client, "idem3@example.com")
    # Past the cutoff now, so a fresh execution (not a replay) answers PRED_001.
    r = client.post(
        "/v1/predictions/AAPL", json={"choice": "UP"},
        headers={**bearer(a["access_token"]), "Idempotency-Key": "shared"},
    )  # fmt: skip
    assert r.status_code == 409 and r.json()["error"]["code"] == "PRED_001"


@pytest.mark.usefixtures("day_open")
def test_malformed_key_is_400(client: TestClient) -> None:
    player = dev_login(client, "idem5@example.com")
    r = client.post(
        "/v1/predictions/AAPL", json={"choice": "UP"},
        headers={**bearer(player["access_token"]), "Idempotency-Key": "x" * 256},
    )  # fmt: skip
    assert r.status_code == 400 and r.json()["error"]["code"] == "IDEM_001"


@pytest.mark.usefixtures("day_open")
def test_a_failed_request_does_not_burn_its_key(client: TestClient) -> None:
    player = dev_login(client, "idem6@example.com")
    headers = {**bearer(player["access_token"]), "Idempotency-Key": "retry-me"}
    assert client.post("/v1/predictions/ZZZZ", json={"choice": "UP"}, headers=headers).status_code == 404
    # The same key on the same (failed) request runs again instead of replaying the error.
    assert client.post("/v1/predictions/ZZZZ", json={"choice": "UP"}, headers=headers).status_code == 404
