"""Test fixtures on real parts.

* PostgreSQL: TEST_DATABASE_URL, else 127.0.0.1:5432, else an embedded server. Each run
  creates a fresh database, migrates it with `alembic upgrade head`, and drops it at the end.
* SQS: an SQS-compatible server (moto) started in-process on a free port, spoken to with
  boto3 over HTTP (TEST_SQS_ENDPOINT_URL points the tests at another endpoint instead).
* `client`: the app over a per-test outer transaction that is rolled back.
* `live_client`: the app over the real engine (real commits); tables are emptied afterwards.

The helpers behind them (settings, containers, factories, fakes) live in tests/support/.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from dependency_injector import providers
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from myapi.container import Container
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.db import make_engine, make_sessionmaker, unit_of_work
from myapi.main import create_app
from myapi.providers.queue import SqsQueue, ensure_queues, make_sqs_client
from scripts import devstack
from tests.support.app import build_test_container, make_settings
from tests.support.days import DAY, DEFAULT_NOW
from tests.support.db import truncate_all
from tests.support.factories import add_close, make_user, open_day, predict

# Fixtures that live with their helpers: `pipeline` (own queues, real commits) and the
# fake reward vendor (`fake_vendor`, `fake`).
from tests.support.fake_vendor import fake, fake_vendor  # noqa: F401
from tests.support.live_server import LiveServer
from tests.support.pipeline import pipeline  # noqa: F401
from tests.support.processes import procs  # noqa: F401


@pytest.fixture(scope="session")
def postgres() -> Iterator[devstack.Postgres]:
    server = devstack.find_postgres("TEST_DATABASE_URL")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(postgres: devstack.Postgres) -> Iterator[str]:
    name = devstack.unique_database_name("oxu_test")
    url = devstack.render_url(postgres.create_database(name))
    devstack.migrate(url)
    yield url
    postgres.drop_database(name)


@pytest.fixture(scope="session")
def sqs_endpoint() -> Iterator[str]:
    endpoint = devstack.find_sqs("TEST_SQS_ENDPOINT_URL")
    yield endpoint.url
    endpoint.stop()


@pytest.fixture(scope="session")
def settings(database_url: str, sqs_endpoint: str) -> Settings:
    return make_settings(database_url, sqs_endpoint)


@pytest.fixture(scope="session")
def queues_ready(settings: Settings) -> None:
    ensure_queues(make_sqs_client(settings), settings)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings)
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    """Frozen at DEFAULT_NOW: Monday 2026-11-23 10:00 KST, the day's session is open."""
    return FrozenClock(DEFAULT_NOW)


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside an outer transaction that is rolled back after the test."""
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    if outer.is_active:
        outer.rollback()
    conn.close()


@pytest.fixture
def rollback_sessionmaker(connection: Connection) -> sessionmaker[Session]:
    # Commits inside the code under test release a SAVEPOINT; the outer transaction
    # is still rolled back at the end.
    return sessionmaker(
        bind=connection,
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
        autoflush=False,
    )


@pytest.fixture
def db(rollback_sessionmaker: sessionmaker[Session]) -> Iterator[Session]:
    session = rollback_sessionmaker()
    yield session
    session.close()


@pytest.fixture
def container(
    settings: Settings,
    clock: FrozenClock,
    engine: Engine,
    rollback_sessionmaker: sessionmaker[Session],
    queues_ready: None,
) -> Container:
    c = build_test_container(settings, clock, engine)
    c.sessionmaker.override(providers.Object(rollback_sessionmaker))
    return c


@pytest.fixture
def app(container: Container) -> FastAPI:
    return create_app(container=container)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def live_engine(settings: Settings) -> Iterator[Engine]:
    """A dedicated engine with real commits; every table is emptied afterwards."""
    eng = make_engine(settings)
    yield eng
    eng.dispose()
    truncate_all(eng)


@pytest.fixture
def live_container(
    settings: Settings, clock: FrozenClock, live_engine: Engine, queues_ready: None
) -> Container:
    return build_test_container(settings, clock, live_engine)


@pytest.fixture
def live_app(live_container: Container) -> FastAPI:
    return create_app(container=live_container)


@pytest.fixture
def live_client(live_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(live_app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def queue(settings: Settings, queues_ready: None) -> SqsQueue:
    return SqsQueue(make_sqs_client(settings))


@pytest.fixture
def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}-"


@pytest.fixture
def settled_scenario(db: Session, clock: FrozenClock, settings: Settings) -> tuple[int, int]:
    """Two players (bull, bear) on the default day, ready to settle once the clock passes
    the close: AAPL up, MSFT down, NVDA flat (VOID FLAT), AMZN without a close (no
    predictions). Used by the /internal settlement run and the settlement views."""
    open_day(db, clock, settings, ["AAPL", "MSFT", "NVDA", "AMZN"])
    up = make_user(db, "settle.bull@example.com")
    down = make_user(db, "settle.bear@example.com")
    for symbol in ("AAPL", "MSFT", "NVDA"):
        predict(db, clock, settings, up, symbol, "UP")
        predict(db, clock, settings, down, symbol, "DOWN")
    add_close(db, "AAPL", DAY, "101.000000")
    add_close(db, "MSFT", DAY, "100.000000")
    add_close(db, "NVDA", DAY, "102.125000")
    db.flush()
    return up, down


@pytest.fixture
def server(
    live_app: FastAPI, live_engine: Engine, clock: FrozenClock, settings: Settings
) -> Iterator[httpx.Client]:
    """The live app served by uvicorn on a loopback port, with today's day open (the
    default universe): real HTTP, real commits."""
    with unit_of_work(make_sessionmaker(live_engine)) as session:
        open_day(session, clock, settings)
    with LiveServer(live_app) as live, httpx.Client(base_url=live.url, timeout=60) as http:
        yield http
