"""Reading and resetting the test database."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from myapi.admin.repository import IntegrityRepository
from myapi.models import metadata


def truncate_all(engine: Engine) -> None:
    tables = ", ".join(f"{t.schema}.{t.name}" for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def count(db: Session, sql: str, **params: object) -> int:
    return int(db.execute(text(sql), params).scalar_one())


def statuses(db: Session, user_id: int) -> dict[str, tuple[str, int, str | None]]:
    """symbol -> (status, points_awarded, void_reason) of a player's predictions."""
    rows = db.execute(
        text("SELECT symbol, status, points_awarded, void_reason FROM crypto.predictions WHERE user_id = :u"),
        {"u": user_id},
    )
    return {r.symbol: (r.status, r.points_awarded, r.void_reason) for r in rows}


def balance_of(db: Session, user_id: int) -> int:
    return count(db, "SELECT balance FROM crypto.point_balances WHERE user_id = :u", u=user_id)


def failed_checks(db: Session, now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """The integrity checks that fail, with their offending rows ({} when all pass);
    holds expire against `now` (a test's clock; default the database's)."""
    return {r.name: r.offending for r in IntegrityRepository(db).run(now=now) if not r.passed}


CYCLE_STEP_COUNTS = {
    "opened": "SELECT trading_day, count(*) FROM crypto.job_runs WHERE job = 'session.open' "
    "AND status = 'SUCCEEDED' AND (details->>'opened')::boolean GROUP BY 1",
    "cut": "SELECT trading_day, count(*) FROM crypto.job_runs WHERE job = 'session.cutoff' "
    "AND status = 'SUCCEEDED' AND (details->>'flipped')::boolean GROUP BY 1",
    "fetched": "SELECT trading_day, count(*) FROM crypto.eod_fetch_logs WHERE status = 'SUCCESS' GROUP BY 1",
    "settled": "SELECT trading_day, count(*) FROM crypto.job_runs WHERE job = 'settlement.run' "
    "AND status = 'SUCCEEDED' AND (details->>'symbols_settled')::int > 0 GROUP BY 1",
}


def cycle_steps(conn: Connection) -> dict[str, dict[date, int]]:
    """Per step of the daily cycle (opened, cut, fetched, settled): trading day -> how
    many times it really happened (job runs that changed something)."""
    return {
        step: {r[0]: int(r[1]) for r in conn.execute(text(sql))} for step, sql in CYCLE_STEP_COUNTS.items()
    }
