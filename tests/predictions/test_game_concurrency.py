"""The hot path under real concurrency: real uvicorn, real threads, real commits."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import Engine, text


def login(http: httpx.Client, email: str) -> dict[str, str]:
    r = http.post("/v1/auth/dev-login", json={"email": email})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['data']['access_token']}"}


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_50_parallel_submits_of_one_symbol_make_exactly_one_prediction(
    server: httpx.Client, live_engine: Engine
) -> None:
    auth = login(server, "race.same@example.com")
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(
            pool.map(
                lambda _: server.post("/v1/predictions/AAPL", json={"choice": "UP"}, headers=auth), range(50)
            )
        )
    codes = sorted(r.status_code for r in responses)
    assert codes == [202] + [409] * 49
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"PRED_005"}
    assert _count(live_engine, "SELECT count(*) FROM crypto.predictions") == 1
    assert _count(live_engine, "SELECT used_slots FROM crypto.user_limits") == 1
    assert _count(live_engine, "SELECT count(*) FROM crypto.outbox WHERE topic = 'prediction.submitted'") == 1


def test_50_parallel_submits_on_different_symbols_never_exceed_3_slots(
    server: httpx.Client, live_engine: Engine
) -> None:
    auth = login(server, "race.slots@example.com")
    symbols = ["AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "META", "GOOGL", "NFLX", "AMD", "INTC", "IBM"]
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(
            pool.map(
                lambda i: server.post(
                    f"/v1/predictions/{symbols[i % len(symbols)]}", json={"choice": "UP"}, headers=auth
                ),
                range(50),
            )
        )
    accepted = [r for r in responses if r.status_code == 202]
    assert len(accepted) == 3
    assert {r.json()["error"]["code"] for r in responses if r.status_code != 202} <= {"PRED_003", "PRED_005"}
    assert _count(live_engine, "SELECT count(*) FROM crypto.predictions WHERE status = 'PENDING'") == 3
    assert _count(live_engine, "SELECT used_slots FROM crypto.user_limits") == 3
    assert sorted(r.json()["data"]["remaining_slots"] for r in accepted) == [0, 1, 2]


def test_50_parallel_retries_with_one_idempotency_key_have_one_effect(
    server: httpx.Client, live_engine: Engine
) -> None:
    auth = {**login(server, "race.idem@example.com"), "Idempotency-Key": "tap-tap-tap"}
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(
            pool.map(
                lambda _: server.post("/v1/predictions/MSFT", json={"choice": "DOWN"}, headers=auth),
                range(50),
            )
        )
    ok = [r for r in responses if r.status_code == 202]
    in_flight = [r for r in responses if r.status_code == 409]
    assert len(ok) + len(in_flight) == 50 and ok
    assert {r.json()["error"]["code"] for r in in_flight} <= {"IDEM_002"}
    # Every success is the original response (JSON-equal: the stored copy is JSONB).
    assert len({json.dumps(r.json(), sort_keys=True) for r in ok}) == 1
    assert _count(live_engine, "SELECT count(*) FROM crypto.predictions") == 1
    assert _count(live_engine, "SELECT count(*) FROM crypto.idempotency_keys") == 1
    # Once the first has finished, a retry is a replay, never a second effect.
    again = server.post("/v1/predictions/MSFT", json={"choice": "DOWN"}, headers=auth)
    assert again.status_code == 202 and again.json() == ok[0].json()
