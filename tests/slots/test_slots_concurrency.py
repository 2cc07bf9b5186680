"""Ad unlocks under real concurrency (real uvicorn, real threads, real commits): the
player's row lock serialises them, so parallel receipts never exceed the daily ad limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import Engine, text


def test_20_parallel_ad_receipts_unlock_exactly_7_slots(server: httpx.Client, live_engine: Engine) -> None:
    r = server.post("/v1/auth/dev-login", json={"email": "race.ads@example.com"})
    assert r.status_code == 200, r.text
    auth = {"Authorization": f"Bearer {r.json()['data']['access_token']}"}
    receipts = [server.post("/v1/ads/dev-receipt", headers=auth).json()["data"] for _ in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(
            pool.map(
                lambda body: server.post(
                    "/v1/ads/unlock", json={"method": "AD", "receipt": body}, headers=auth
                ),
                receipts,
            )
        )
    accepted = [r for r in responses if r.status_code == 200]
    assert len(accepted) == 7
    assert {(r.status_code, r.json()["error"]["code"]) for r in responses if r.status_code != 200} == {
        (409, "AD_004")
    }
    assert sorted(r.json()["data"]["ad_unlocks_used"] for r in accepted) == list(range(1, 8))
    with live_engine.connect() as conn:
        assert conn.execute(text("SELECT ad_unlocks FROM crypto.user_limits")).scalar_one() == 7
        ads = conn.execute(text("SELECT count(*) FROM crypto.ad_unlocks WHERE method = 'AD'")).scalar_one()
        assert ads == 7
    status = server.get("/v1/ads/status", headers=auth).json()["data"]
    assert (status["ad_unlocks_used"], status["available"], status["can_unlock"]) == (7, 10, False)
