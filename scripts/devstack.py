"""Finds or starts what a local run or a test run needs, with no configuration:

* PostgreSQL: the given URL; else a server on 127.0.0.1:5432 if one answers; else an
  embedded server from the `pgserver` package, in `.local/pg` (socket only).
* SQS: the given endpoint; else an SQS-compatible server (moto) in this process.

Used by `scripts/run_local.py` (make run) and `tests/conftest.py` (make test).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import URL, make_url

logger = logging.getLogger("devstack")

ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = ROOT / ".local"
LOCAL_POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


@dataclass
class Postgres:
    """A reachable server: `admin_url` points at its maintenance database."""

    admin_url: URL
    source: str
    _embedded: Any = field(default=None, repr=False)

    def url_for(self, database: str) -> URL:
        return self.admin_url.set(database=database)

    def _admin_connect(self) -> Any:
        conn = psycopg2.connect(**_libpq_kwargs(self.admin_url))
        conn.autocommit = True
        return conn

    def create_database(self, database: str, *, if_missing: bool = False) -> URL:
        conn = self._admin_connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
                exists = cur.fetchone() is not None
                if exists and not if_missing:
                    raise RuntimeError(f"database {database!r} already exists")
                if not exists:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        finally:
            conn.close()
        return self.url_for(database)

    def drop_database(self, database: str) -> None:
        conn = self._admin_connect()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
                )
        finally:
            conn.close()

    def stop(self) -> None:
        if self._embedded is not None:
            self._embedded.cleanup()
            self._embedded = None
            # pgserver logs again from its atexit hook, after the streams are closed.
            logging.getLogger("pgserver").disabled = True


def _libpq_kwargs(url: URL) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"dbname": url.database or "postgres", "user": url.username or "postgres"}
    if url.password:
        kwargs["password"] = url.password
    if url.host:
        kwargs["host"] = url.host
    if url.port:
        kwargs["port"] = url.port
    if "host" in url.query:  # unix socket directory
        kwargs["host"] = url.query["host"]
    kwargs["connect_timeout"] = 3
    return kwargs


def _answers(url: URL) -> bool:
    try:
        psycopg2.connect(**_libpq_kwargs(url)).close()
        return True
    except psycopg2.OperationalError:
        return False


def find_postgres(env_var: str) -> Postgres:
    """The server named by `env_var`, else 127.0.0.1:5432, else an embedded one."""
    configured = os.environ.get(env_var)
    if configured:
        url = make_url(configured).set(drivername="postgresql+psycopg2")
        return Postgres(admin_url=url.set(database="postgres"), source=env_var)
    local = make_url(LOCAL_POSTGRES_URL)
    if _answers(local):
        return Postgres(admin_url=local, source="127.0.0.1:5432")
    return _start_embedded()


def _start_embedded() -> Postgres:
    import pgserver

    pgdata = LOCAL_DIR / "pg"
    pgdata.mkdir(parents=True, exist_ok=True)
    logger.info("no PostgreSQL on 127.0.0.1:5432; starting an embedded server in %s", pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    url = make_url(server.get_uri()).set(drivername="postgresql+psycopg2")
    return Postgres(admin_url=url.set(database="postgres"), source="embedded", _embedded=server)


def unique_database_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SqsEndpoint:
    url: str
    source: str
    _server: Any = field(default=None, repr=False)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def find_sqs(env_var: str = "SQS_ENDPOINT_URL", port: int | None = None) -> SqsEndpoint:
    """The endpoint named by `env_var`, else an in-process SQS-compatible server."""
    configured = os.environ.get(env_var)
    if configured:
        return SqsEndpoint(url=configured, source=env_var)
    from moto.server import ThreadedMotoServer

    chosen = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=chosen, verbose=False)
    server.start()
    return SqsEndpoint(url=f"http://127.0.0.1:{chosen}", source="in-process", _server=server)


def render_url(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def alembic_config(database_url: str) -> Any:
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    """`alembic upgrade <revision>` against `database_url`."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)
