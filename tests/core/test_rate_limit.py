"""Rate limiting: a sliding window in PostgreSQL, per player and per IP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.main import create_app
from tests.support.app import build_test_container, make_settings
from tests.support.http import bearer, dev_login


@pytest.fixture
def limited(
    settings: Settings, clock: FrozenClock, live_engine: Engine, queues_ready: None
) -> Iterator[TestClient]:
    tight = make_settings(
        settings.database_url,
        settings.sqs_endpoint_url or "",
        rate_limit_read=3,
        rate_limit_window_s=60,
        rate_limit_auth=1000,
    )
    app = create_app(container=build_test_container(tight, clock, live_engine))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_the_n_plus_first_request_in_the_window_is_429_with_headers(
    limited: TestClient, clock: FrozenClock
) -> None:
    clock.set(clock.now().replace(second=0) + timedelta(seconds=10))  # 10 s into a window
    auth = bearer(dev_login(limited, "busy@example.com")["access_token"])
    remaining = []
    for _ in range(3):
        r = limited.get("/v1/users/me", headers=auth)
        assert r.status_code == 200
        assert r.headers["x-ratelimit-limit"] == "3"
        remaining.append(int(r.headers["x-ratelimit-remaining"]))
    assert remaining == [2, 1, 0]
    r = limited.get("/v1/users/me", headers=auth)
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "SYS_429"
    assert r.headers["retry-after"] == "50"
    assert r.headers["x-ratelimit-remaining"] == "0"
    assert r.headers["x-ratelimit-reset"] == "50"


def test_the_window_slides(limited: TestClient, clock: FrozenClock) -> None:
    clock.set(clock.now().replace(second=0))
    auth = bearer(dev_login(limited, "slider@example.com")["access_token"])
    for _ in range(4):  # 3 allowed, the 4th refused (and counted)
        limited.get("/v1/users/me", headers=auth)
    clock.advance(timedelta(seconds=60))  # next window: the previous 4 still weigh fully
    assert limited.get("/v1/users/me", headers=auth).status_code == 429
    clock.advance(timedelta(seconds=30))  # half-way: 4 * 0.5 + 1 (the 429 above) + 1 = 4 > 3
    assert limited.get("/v1/users/me", headers=auth).status_code == 429
    clock.advance(timedelta(seconds=20))  # 4 * 1/6 + 2 + 1 ≈ 3.67 > 3
    assert limited.get("/v1/users/me", headers=auth).status_code == 429
    clock.advance(timedelta(seconds=60))  # two windows on: clean slate
    assert limited.get("/v1/users/me", headers=auth).status_code == 200


def test_players_have_separate_budgets(limited: TestClient, clock: FrozenClock) -> None:
    clock.set(clock.now().replace(second=0))
    a = bearer(dev_login(limited, "a.rl@example.com")["access_token"])
    b = bearer(dev_login(limited, "b.rl@example.com")["access_token"])
    for _ in range(3):
        limited.get("/v1/users/me", headers=a)
    assert limited.get("/v1/users/me", headers=a).status_code == 429
    assert limited.get("/v1/users/me", headers=b).status_code == 200


def test_failed_requests_count_too(limited: TestClient, clock: FrozenClock, live_engine: Engine) -> None:
    clock.set(clock.now().replace(second=0))
    auth = bearer(dev_login(limited, "bad.rl@example.com")["access_token"])
    for _ in range(3):
        assert limited.get("/v1/predictions/me?trading_day=not-a-date", headers=auth).status_code == 422
    assert limited.get("/v1/users/me", headers=auth).status_code == 429


def test_gc_removes_expired_windows(
    limited: TestClient, clock: FrozenClock, settings: Settings, live_engine: Engine
) -> None:
    auth = bearer(dev_login(limited, "gc.rl@example.com")["access_token"])
    limited.get("/v1/users/me", headers=auth)
    with live_engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM crypto.rate_limits")).scalar_one()
    assert before > 0
    clock.advance(timedelta(minutes=3))
    r = limited.post("/internal/maintenance/gc", headers={"X-Internal-Token": settings.internal_token})
    assert r.status_code == 200
    assert r.json()["data"]["details"]["rate_limit_windows_deleted"] == before


def test_counters_commit_without_waiting_for_the_wal_flush_game_data_does(
    settings: Settings, clock: FrozenClock, live_engine: Engine
) -> None:
    """The limiter has its own pool with synchronous_commit off (a busy counter row is
    locked only briefly); the request pool keeps durable commits."""
    container = build_test_container(settings, clock)
    try:
        with container.rate_limit_engine().connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
        with container.engine().connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
    finally:
        container.engine().dispose()
        container.rate_limit_engine().dispose()
