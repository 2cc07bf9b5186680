"""Migrations: upgrade from empty, no drift from the models, clean downgrade, and the
schema of SPEC §3 really enforces its rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alembic import command
from myapi.core.base import SCHEMA
from myapi.models import metadata
from scripts import devstack

EXPECTED_TABLES = {
    "users", "oauth_states", "refresh_tokens", "session_control", "active_universe",
    "predictions", "settlements", "eod_prices", "eod_fetch_logs", "point_balances",
    "points_ledger", "points_holds", "rewards_inventory", "rewards_redemptions",
    "user_limits", "ad_unlocks", "idempotency_keys", "rate_limits", "outbox", "job_runs",
    "audit_log", "notifications", "player_days", "leaderboard", "symbol_crowd",
    "push_devices", "push_preferences", "push_deliveries",
    "leaderboard_scores", "leaderboard_score_blocks",
    "admin_alerts",
    "symbol_day_reviews", "system_flags", "dashboard_days", "dashboard_symbol_days",
}  # fmt: skip

EXPECTED_ENUMS = {
    "phase": ["PREDICT", "SETTLE"],
    "choice": ["UP", "DOWN"],
    "outcome": ["UP", "DOWN", "VOID"],
    "prediction_status": ["PENDING", "CORRECT", "INCORRECT", "VOID", "CANCELLED"],
    "hold_status": ["OPEN", "COMMITTED", "CANCELLED"],
    "redemption_status": ["REQUESTED", "RESERVED", "ISSUED", "CANCELLED", "FAILED"],
    "user_role": ["USER", "ADMIN"],
}


@pytest.fixture
def scratch_database(postgres: devstack.Postgres) -> Iterator[str]:
    """An empty database of its own, so up/down cycles never touch the shared one."""
    name = devstack.unique_database_name("oxu_migr")
    url = devstack.render_url(postgres.create_database(name))
    yield url
    postgres.drop_database(name)


def _enums(conn: object) -> dict[str, list[str]]:
    rows = conn.execute(  # type: ignore[attr-defined]
        text(
            "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) "
            "FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid "
            "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = :schema "
            "GROUP BY t.typname"
        ),
        {"schema": SCHEMA},
    )
    return {name: list(labels) for name, labels in rows}


def test_upgrade_creates_every_table_and_enum_and_downgrade_removes_everything(
    scratch_database: str,
) -> None:
    config = devstack.alembic_config(scratch_database)
    command.upgrade(config, "head")
    engine = create_engine(scratch_database)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names(schema=SCHEMA)) == EXPECTED_TABLES
            assert _enums(conn) == EXPECTED_ENUMS

        command.downgrade(config, "base")
        with engine.connect() as conn:
            schemas = conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": SCHEMA}).all()
            assert schemas == []
            assert _enums(conn) == {}

        # ...and it comes back cleanly.
        command.upgrade(config, "head")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names(schema=SCHEMA)) == EXPECTED_TABLES
    finally:
        engine.dispose()


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_schemas": True,
                    "include_name": lambda name, type_, _: type_ != "schema" or name == SCHEMA,
                    "compare_type": True,
                    "compare_server_default": True,
                },
            )
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_key_constraints_exist_with_conventional_names(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            uniques = {
                table: {u["name"] for u in insp.get_unique_constraints(table, schema=SCHEMA)}
                for table in ("predictions", "points_ledger", "points_holds", "users")
            }
            assert "uq_predictions_trading_day_user_id_symbol" in uniques["predictions"]
            assert "uq_points_ledger_ref_type_ref_id" in uniques["points_ledger"]
            assert "uq_points_holds_ref_type_ref_id" in uniques["points_holds"]
            assert "uq_users_auth_provider_provider_id" in uniques["users"]
            checks = {c["name"] for c in insp.get_check_constraints("point_balances", schema=SCHEMA)}
            assert "ck_point_balances_balance_non_negative" in checks
            checks = {c["name"] for c in insp.get_check_constraints("rewards_inventory", schema=SCHEMA)}
            assert "ck_rewards_inventory_counts_within_stock" in checks
            fks = {fk["name"] for fk in insp.get_foreign_keys("predictions", schema=SCHEMA)}
            assert "fk_predictions_trading_day_symbol_active_universe" in fks
            assert "fk_predictions_user_id_users" in fks
    finally:
        engine.dispose()


def _user(db: Session, n: int = 1) -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO crypto.users (email, nickname, auth_provider, provider_id) "
                "VALUES (:e, :n, 'DEV', :p) RETURNING id"
            ),
            {"e": f"u{n}@example.com", "n": f"user{n}", "p": f"p{n}"},
        ).scalar_one()
    )


def _fails(db: Session, sql: str, params: dict[str, object]) -> bool:
    savepoint = db.begin_nested()
    try:
        db.execute(text(sql), params)
        savepoint.commit()
        return False
    except IntegrityError:
        savepoint.rollback()
        return True


def test_balance_can_never_go_negative(db: Session) -> None:
    uid = _user(db)
    assert _fails(db, "INSERT INTO crypto.point_balances (user_id, balance) VALUES (:u, -1)", {"u": uid})


def test_ledger_ref_is_unique(db: Session) -> None:
    uid = _user(db)
    sql = (
        "INSERT INTO crypto.points_ledger (user_id, delta_points, reason, ref_type, ref_id, "
        "balance_after) VALUES (:u, 1000, 'signup', 'SIGNUP', :r, 1000)"
    )
    assert not _fails(db, sql, {"u": uid, "r": str(uid)})
    assert _fails(db, sql, {"u": uid, "r": str(uid)})


def test_inventory_reserved_cannot_exceed_stock(db: Session) -> None:
    assert _fails(
        db,
        "INSERT INTO crypto.rewards_inventory (sku, title, cost_points, stock, reserved, vendor) "
        "VALUES ('X', 'x', 10, 1, 2, 'v')",
        {},
    )


def test_email_must_be_lower_case_and_unique(db: Session) -> None:
    _user(db, 1)
    insert = (
        "INSERT INTO crypto.users (email, nickname, auth_provider, provider_id) VALUES (:e, :n, 'DEV', :p)"
    )
    assert _fails(db, insert, {"e": "Upper@example.com", "n": "upper", "p": "x1"})
    assert _fails(db, insert, {"e": "u1@example.com", "n": "other", "p": "x2"})


def test_prediction_requires_its_symbol_in_that_days_universe(db: Session) -> None:
    uid = _user(db)
    db.execute(
        text("INSERT INTO crypto.active_universe (trading_day, symbol, seq) VALUES ('2026-11-23', 'AAPL', 1)")
    )
    insert = (
        "INSERT INTO crypto.predictions (trading_day, user_id, symbol, choice) "
        "VALUES ('2026-11-23', :u, :s, 'UP')"
    )
    assert not _fails(db, insert, {"u": uid, "s": "AAPL"})
    assert _fails(db, insert, {"u": uid, "s": "AAPL"})  # one per (day, user, symbol)
    assert _fails(db, insert, {"u": uid, "s": "MSFT"})  # not in the universe
    # Removing a symbol that has predictions is refused.
    assert _fails(db, "DELETE FROM crypto.active_universe WHERE symbol = 'AAPL'", {})


def test_invalid_symbol_and_non_positive_prices_are_refused(db: Session) -> None:
    assert _fails(
        db,
        "INSERT INTO crypto.active_universe (trading_day, symbol, seq) VALUES ('2026-11-23', 'aapl', 1)",
        {},
    )
    assert _fails(
        db,
        "INSERT INTO crypto.eod_prices (asof, symbol, vendor_rev, close_price, provider) "
        "VALUES ('2026-11-23', 'AAPL', 0, 0, 'sandbox')",
        {},
    )
