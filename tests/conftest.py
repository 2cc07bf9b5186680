"""Test fixtures on real parts.

* PostgreSQL: TEST_DATABASE_URL, else 127.0.0.1:5432, else an embedded server. Each run
  creates a fresh database, migrates it with `alembic upgrade head`, and drops it at the end.
* SQS: an SQS-compatible server (moto) started in-process on a free port, spoken to with
  boto3 over HTTP (TEST_SQS_ENDPOINT_URL points the tests at another endpoint instead).
* `client`: the app over a per-test outer transaction that is rolled back.
* `live_client`: the app over the real engine (real commits); tables are emptied afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from dependency_injector import providers
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session, sessionmaker

from myapi.auth.keys import generate_private_pem
from myapi.container import Container, build_container
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.db import make_engine
from myapi.main import create_app
from myapi.models import metadata
from myapi.providers.queue import SqsQueue, ensure_queues, make_sqs_client
from scripts import devstack

# One RSA key pair for the whole run (generating one takes ~0.1 s).
TEST_SIGNING_KID = "test-key-1"
TEST_SIGNING_PEM = generate_private_pem()

# Monday 2026-11-23 10:00 KST: the session for trading day 2026-11-23 is open.
DEFAULT_NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


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


def make_settings(database_url: str, sqs_endpoint: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "sqs_endpoint_url": sqs_endpoint,
        "queue_prefix": "test-",
        "sqs_wait_time_s": 0,
        "log_json": True,
        # Room for 50 concurrent requests (40 threadpool slots) plus the rate limiter.
        "db_pool_size": 10,
        "db_max_overflow": 50,
        "jwt_private_keys": json.dumps({TEST_SIGNING_KID: TEST_SIGNING_PEM}),
        # Limits a test run never reaches; tests/test_rate_limit.py sets small ones.
        "rate_limit_read": 1_000_000,
        "rate_limit_write": 1_000_000,
        "rate_limit_auth": 1_000_000,
        "rate_limit_ip": 1_000_000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


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


def build_test_container(settings: Settings, clock: FrozenClock, engine: Engine | None = None) -> Container:
    container = build_container(settings)
    container.clock.override(providers.Object(clock))
    if engine is not None:
        container.engine.override(providers.Object(engine))
    return container


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


def truncate_all(engine: Engine) -> None:
    tables = ", ".join(f"{t.schema}.{t.name}" for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


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


# The `pipeline` fixture (own queues, real commits) lives with its helpers.
from tests.pipeline_support import pipeline  # noqa: E402, F401
