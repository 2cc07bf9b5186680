"""The unit of work: one commit per request or job, rollback on failure, the
connection always back in the pool — proven over real HTTP against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from myapi.core.db import make_engine, unit_of_work
from tests.support import routes
from tests.support.app import make_settings
from tests.support.live_server import LiveServer


@pytest.fixture
def live_server(live_app: FastAPI) -> Iterator[LiveServer]:
    live_app.include_router(routes.router)
    with LiveServer(live_app) as server:
        yield server


def _audit_rows(engine: Engine, tag_prefix: str) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT target FROM crypto.audit_log WHERE target LIKE :p"), {"p": tag_prefix + "%"}
        )
        return {r[0] for r in rows}


def _our_idle_in_transaction(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'oxuniverse' AND state LIKE 'idle in transaction%'"
                )
            ).scalar_one()
        )


def test_no_connection_leaks_after_300_requests_some_failing_mid_transaction(
    live_server: LiveServer, live_engine: Engine
) -> None:
    modes = ["none", "app", "crash"]
    expected_committed: set[str] = set()
    statuses: dict[str, int] = {}

    def call(client: httpx.Client, i: int) -> None:
        mode = modes[i % 3]
        tag = f"leak-{i}"
        r = client.post("/test/write", params={"tag": tag, "fail": mode})
        statuses[tag] = r.status_code
        if mode == "none":
            expected_committed.add(tag)

    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        for i in range(250):
            call(client, i)
        with ThreadPoolExecutor(max_workers=50) as pool:
            list(pool.map(lambda i: call(client, i), range(250, 300)))

    assert len(statuses) == 300
    for tag, status in statuses.items():
        mode = modes[int(tag.split("-")[1]) % 3]
        assert status == {"none": 200, "app": 409, "crash": 500}[mode], (tag, status)

    # Every success committed; every failure left nothing behind.
    assert _audit_rows(live_engine, "leak-") == expected_committed
    # Every pooled connection is back, and no session of ours sits idle in a transaction.
    assert live_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert _our_idle_in_transaction(live_engine) == 0


def test_a_failing_commit_is_an_error_response_and_leaves_nothing(
    live_app: FastAPI, live_engine: Engine
) -> None:
    live_app.include_router(routes.router)
    with TestClient(live_app, raise_server_exceptions=False) as client:
        r = client.post("/test/commit-fails")
    # The commit runs before the response is sent: the client never sees success.
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "SYS_500"
    with live_engine.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM crypto.audit_log WHERE action = 'commit-fails'")
        ).scalar_one()
    assert count == 0
    assert live_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_job_unit_of_work_commits_on_success_and_rolls_back_on_error(live_engine: Engine) -> None:
    from myapi.core.db import make_sessionmaker

    factory = make_sessionmaker(live_engine)

    def insert(session: Session, tag: str) -> None:
        session.execute(
            text("INSERT INTO crypto.audit_log (actor, action, target) VALUES ('job', 'x', :t)"),
            {"t": tag},
        )

    with unit_of_work(factory) as session:
        insert(session, "job-ok")
    with pytest.raises(RuntimeError), unit_of_work(factory) as session:
        insert(session, "job-fail")
        raise RuntimeError("boom")
    assert _audit_rows(live_engine, "job-") == {"job-ok"}
    assert live_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_container_never_provides_a_session() -> None:
    from dependency_injector import providers

    from myapi.container import Container

    for name, provider in Container.providers.items():
        assert not isinstance(provider, providers.Resource), name
        provided = getattr(provider, "provides", None)
        assert provided is not Session, name


@pytest.mark.parametrize("idle_s", [0.0, 3600.0])
def test_a_connection_killed_while_idle_in_the_pool(database_url: str, idle_s: float) -> None:
    """Past DB_PING_IDLE_S a pooled connection is pinged before use and a dead one is
    replaced without the caller noticing; a connection used again sooner than that is
    not pinged (no round trip per request), so its death surfaces as a disconnect
    error, after which the pool reconnects."""
    engine = make_engine(
        make_settings(database_url, "", db_pool_size=1, db_max_overflow=0, db_ping_idle_s=idle_s)
    )
    try:
        with engine.connect() as conn:
            victim = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        killer = create_engine(database_url, poolclass=NullPool)
        with killer.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
        if idle_s == 0.0:
            with engine.connect() as conn:  # pinged, found dead, replaced
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != victim
        else:
            with pytest.raises(OperationalError), engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            with engine.connect() as conn:  # the pool was invalidated: a new connection
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != victim
    finally:
        engine.dispose()
