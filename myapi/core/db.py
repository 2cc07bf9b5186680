"""Engine, sessionmaker and the unit of work.

One unit of work per request (the `db_session` dependency) or per job/message
(`unit_of_work`): it commits once when the work succeeds and rolls back when it
fails, and the session is always closed, so its connection always goes back to
the pool. The container holds the engine and the sessionmaker, never a session.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine.interfaces import IsolationLevel
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from myapi.core.config import Settings
from myapi.core.errors import AppError


def make_engine(settings: Settings) -> Engine:
    return _engine(settings, "", settings.db_pool_size, settings.db_max_overflow)


def make_rate_limit_engine(settings: Settings) -> Engine:
    """A small pool of its own for the rate limiter's one-statement transactions, with
    synchronous_commit off: a counter commit does not wait for the WAL flush, so the
    row lock on a busy counter (one IP behind many players) is held for microseconds,
    and a crash can lose at most the last few counts — acceptable for a rate limit,
    never used for game data. It also keeps limiter traffic out of the request pool.
    Statements autocommit (the limiter's one statement is its own transaction)."""
    return _engine(
        settings,
        " -c synchronous_commit=off",
        settings.db_rate_limit_pool_size,
        # No overflow: connections held for one short statement are better waited for
        # than opened and closed per request (a new backend each time) under load.
        0,
        # Each use is one statement: autocommit makes it one round trip (no BEGIN/COMMIT).
        isolation_level="AUTOCOMMIT",
    )


def _engine(
    settings: Settings,
    extra_options: str,
    pool_size: int,
    max_overflow: int,
    isolation_level: IsolationLevel | None = None,
) -> Engine:
    # The database speaks UTC; the API renders instants in KST.
    options = "-c timezone=UTC" + extra_options
    if settings.db_statement_timeout_ms:
        options += f" -c statement_timeout={settings.db_statement_timeout_ms}"
    if settings.db_idle_in_transaction_timeout_ms:
        options += f" -c idle_in_transaction_session_timeout={settings.db_idle_in_transaction_timeout_ms}"
    # Notice a vanished client (a killed process) even while its query waits on a lock.
    options += " -c client_connection_check_interval=2000"
    extra: dict[str, Any] = {} if isolation_level is None else {"isolation_level": isolation_level}
    engine = create_engine(
        settings.database_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        connect_args={"application_name": "oxuniverse", "options": options, "connect_timeout": 5},
        # Bound values never reach an exception's text (and so a log line): some are
        # secrets (an issued gift code, a token hash).
        hide_parameters=True,
        **extra,
    )
    ping_when_idle(engine, settings.db_ping_idle_s)
    return engine


def ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Pessimistic disconnect handling without a round trip per request: `pool_pre_ping`
    pings on every checkout (two per player request); this pings only a connection that
    sat in the pool for `idle_s` or longer — under load none do — and a dead one is
    replaced transparently (DisconnectionError makes the pool reconnect and retry). A
    connection that dies while in use still fails that request (503) and invalidates
    the pool, as with pre-ping."""

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        # info is cleared when a connection is invalidated: a fresh one is not pinged.
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("connection lost while idle in the pool") from exc


def batch_statement_timeout(session: Session, timeout_ms: int) -> None:
    """A day-sized batch step (its statements cover a whole day's rows) runs the rest of
    its transaction under `timeout_ms` instead of the request timeout
    (DB_STATEMENT_TIMEOUT_MS); 0 means none."""
    session.execute(text("SELECT set_config('statement_timeout', :v, true)"), {"v": f"{int(timeout_ms)}ms"})


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: a response built after commit must not reload rows.
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit if the block succeeds, roll back if it raises (unless the
    error is an AppError whose effect must persist), always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except AppError as exc:
        if exc.commit_transaction:
            session.commit()
        else:
            session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _request_session(request: Request) -> Iterator[Session]:
    factory: sessionmaker[Session] = request.app.state.container.sessionmaker()
    with unit_of_work(factory) as session:
        yield session


# scope="function": the exit code (commit/rollback/close) runs as soon as the route
# returns, before the response is sent, so a client never sees a success whose
# commit then failed.
DbSession = Annotated[Session, Depends(_request_session, scope="function")]
