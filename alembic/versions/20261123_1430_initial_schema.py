"""initial schema: every table, enum and constraint of SPEC §3 in schema crypto

Revision ID: 0001_initial_schema
Revises:
Create Date: 2026-11-23 14:30:16.574678+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0001_initial_schema"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ENUM_TYPES = (
    "phase",
    "choice",
    "outcome",
    "prediction_status",
    "hold_status",
    "redemption_status",
    "user_role",
)


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS crypto")
    # Enum types are created with the first table that uses each of them.
    op.create_table(
        "active_universe",
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(length=10), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("baseline_price", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("baseline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("baseline_source", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "symbol ~ '^[A-Z][A-Z0-9.\\-]{0,9}$'", name=op.f("ck_active_universe_symbol_format")
        ),
        sa.CheckConstraint(
            "(baseline_price IS NULL) = (baseline_at IS NULL)",
            name=op.f("ck_active_universe_baseline_with_asof"),
        ),
        sa.CheckConstraint(
            "baseline_price IS NULL OR baseline_price > 0", name=op.f("ck_active_universe_baseline_positive")
        ),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_active_universe_seq_positive")),
        sa.PrimaryKeyConstraint("trading_day", "symbol", name=op.f("pk_active_universe")),
        schema="crypto",
    )
    op.create_table(
        "eod_fetch_logs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column(
            "symbols", postgresql.ARRAY(sa.String(length=10)), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column(
            "missing_symbols",
            postgresql.ARRAY(sa.String(length=10)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('SUCCESS', 'PARTIAL', 'FAILED')", name=op.f("ck_eod_fetch_logs_status_known")
        ),
        sa.CheckConstraint("duration_ms >= 0", name=op.f("ck_eod_fetch_logs_duration_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eod_fetch_logs")),
        schema="crypto",
    )
    op.create_index(
        op.f("ix_eod_fetch_logs_trading_day_created_at"),
        "eod_fetch_logs",
        ["trading_day", "created_at"],
        unique=False,
        schema="crypto",
    )
    op.create_table(
        "eod_prices",
        sa.Column("asof", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(length=10), nullable=False),
        sa.Column("vendor_rev", sa.Integer(), nullable=False),
        sa.Column("close_price", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("prev_close_price", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("close_price > 0", name=op.f("ck_eod_prices_close_positive")),
        sa.CheckConstraint(
            "prev_close_price IS NULL OR prev_close_price > 0", name=op.f("ck_eod_prices_prev_close_positive")
        ),
        sa.CheckConstraint("vendor_rev >= 0", name=op.f("ck_eod_prices_vendor_rev_non_negative")),
        sa.PrimaryKeyConstraint("asof", "symbol", "vendor_rev", name=op.f("pk_eod_prices")),
        schema="crypto",
    )
    op.create_index(
        op.f("ix_eod_prices_symbol_asof"), "eod_prices", ["symbol", "asof"], unique=False, schema="crypto"
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("trading_day", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'RUNNING'"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED')", name=op.f("ck_job_runs_status_known")
        ),
        sa.CheckConstraint(
            "finished_at IS NULL OR finished_at >= started_at", name=op.f("ck_job_runs_finish_after_start")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        schema="crypto",
    )
    op.create_index(
        op.f("ix_job_runs_job_trading_day"), "job_runs", ["job", "trading_day"], unique=False, schema="crypto"
    )
    op.create_index(op.f("ix_job_runs_started_at"), "job_runs", ["started_at"], unique=False, schema="crypto")
    op.create_table(
        "oauth_states",
        sa.Column("state", sa.String(length=128), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("provider IN ('GOOGLE', 'KAKAO')", name=op.f("ck_oauth_states_provider_known")),
        sa.CheckConstraint("expires_at > created_at", name=op.f("ck_oauth_states_expires_after_created")),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_oauth_states")),
        schema="crypto",
    )
    op.create_index(
        op.f("ix_oauth_states_expires_at"), "oauth_states", ["expires_at"], unique=False, schema="crypto"
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("dedup_id", sa.String(length=128), nullable=True),
        sa.Column("group_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_attempts_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        schema="crypto",
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["next_attempt_at", "id"],
        unique=False,
        schema="crypto",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_type", sa.String(length=32), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint("count >= 0", name=op.f("ck_rate_limits_count_non_negative")),
        sa.PrimaryKeyConstraint("key", "window_type", "window_start", name=op.f("pk_rate_limits")),
        schema="crypto",
    )
    op.create_index(
        op.f("ix_rate_limits_window_start"), "rate_limits", ["window_start"], unique=False, schema="crypto"
    )
    op.create_table(
        "rewards_inventory",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("cost_points", sa.BigInteger(), nullable=False),
        sa.Column("stock", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("reserved", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("vendor", sa.String(length=64), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("cost_points > 0", name=op.f("ck_rewards_inventory_cost_positive")),
        sa.CheckConstraint(
            "reserved >= 0 AND reserved <= stock", name=op.f("ck_rewards_inventory_reserved_within_stock")
        ),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_rewards_inventory_stock_non_negative")),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_rewards_inventory")),
        schema="crypto",
    )
    op.create_table(
        "session_control",
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("phase", sa.Enum("PREDICT", "SETTLE", name="phase", schema="crypto"), nullable=False),
        sa.Column("predict_open_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("predict_cutoff_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("market_open_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("market_close_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settle_ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "predict_cutoff_at > predict_open_at", name=op.f("ck_session_control_cutoff_after_open")
        ),
        sa.PrimaryKeyConstraint("trading_day", name=op.f("pk_session_control")),
        schema="crypto",
    )
    op.create_table(
        "settlements",
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.Enum("UP", "DOWN", "VOID", name="outcome", schema="crypto"), nullable=False),
        sa.Column("close_price", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("prev_close_price", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("vendor_rev", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("void_reason", sa.String(length=64), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(outcome = 'VOID') = (void_reason IS NOT NULL)", name=op.f("ck_settlements_void_has_reason")
        ),
        sa.CheckConstraint(
            "close_price IS NULL OR close_price > 0", name=op.f("ck_settlements_close_positive")
        ),
        sa.CheckConstraint(
            "prev_close_price IS NULL OR prev_close_price > 0",
            name=op.f("ck_settlements_prev_close_positive"),
        ),
        sa.CheckConstraint("vendor_rev >= 0", name=op.f("ck_settlements_vendor_rev_non_negative")),
        sa.PrimaryKeyConstraint("trading_day", "symbol", name=op.f("pk_settlements")),
        schema="crypto",
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("nickname", sa.String(length=30), nullable=False),
        sa.Column(
            "role",
            sa.Enum("USER", "ADMIN", name="user_role", schema="crypto"),
            server_default=sa.text("'USER'"),
            nullable=False,
        ),
        sa.Column("auth_provider", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.String(length=255), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "auth_provider IN ('GOOGLE', 'KAKAO', 'DEV')", name=op.f("ck_users_auth_provider_known")
        ),
        sa.CheckConstraint("char_length(nickname) BETWEEN 2 AND 30", name=op.f("ck_users_nickname_length")),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_users_email_lowercase")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("auth_provider", "provider_id", name=op.f("uq_users_auth_provider_provider_id")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("nickname", name=op.f("uq_users_nickname")),
        schema="crypto",
    )
    op.create_table(
        "ad_unlocks",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("unlocked_slots", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("receipt_nonce", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "method <> 'AD' OR receipt_nonce IS NOT NULL", name=op.f("ck_ad_unlocks_ad_has_nonce")
        ),
        sa.CheckConstraint("method IN ('AD', 'COOLDOWN')", name=op.f("ck_ad_unlocks_method_known")),
        sa.CheckConstraint("unlocked_slots > 0", name=op.f("ck_ad_unlocks_unlocked_positive")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["crypto.users.id"], name=op.f("fk_ad_unlocks_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_unlocks")),
        sa.UniqueConstraint("receipt_nonce", name=op.f("uq_ad_unlocks_receipt_nonce")),
        schema="crypto",
    )
    op.create_index(
        op.f("ix_ad_unlocks_user_id_trading_day"),
        "ad_unlocks",
        ["user_id", "trading_day"],
        unique=False,
        schema="crypto",
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("actor_user_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column(
            "payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["crypto.users.id"],
            name=op.f("fk_audit_log_actor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        schema="crypto",
    )
    op.create_index(
        op.f("ix_audit_log_actor_user_id_at"),
        "audit_log",
        ["actor_user_id", "at"],
        unique=False,
        schema="crypto",
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False, schema="crypto")
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("expires_at > created_at", name=op.f("ck_idempotency_keys_expires_after_created")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["crypto.users.id"],
            name=op.f("fk_idempotency_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
        schema="crypto",
    )
    op.create_index(
        op.f("ix_idempotency_keys_expires_at"),
        "idempotency_keys",
        ["expires_at"],
        unique=False,
        schema="crypto",
    )
    op.create_table(
        "point_balances",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("balance", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_point_balances_balance_non_negative")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["crypto.users.id"],
            name=op.f("fk_point_balances_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_point_balances")),
        schema="crypto",
    )
    op.create_table(
        "points_holds",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("ref_type", sa.String(length=32), nullable=False),
        sa.Column("ref_id", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum("OPEN", "COMMITTED", "CANCELLED", name="hold_status", schema="crypto"),
            server_default=sa.text("'OPEN'"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_points_holds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["crypto.users.id"], name=op.f("fk_points_holds_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_holds")),
        sa.UniqueConstraint("ref_type", "ref_id", name=op.f("uq_points_holds_ref_type_ref_id")),
        schema="crypto",
    )
    op.create_index(
        op.f("ix_points_holds_user_id_status"),
        "points_holds",
        ["user_id", "status"],
        unique=False,
        schema="crypto",
    )
    op.create_table(
        "points_ledger",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("delta_points", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("ref_type", sa.String(length=32), nullable=False),
        sa.Column("ref_id", sa.String(length=200), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("trading_day", sa.Date(), nullable=True),
        sa.Column("symbol", sa.String(length=10), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("balance_after >= 0", name=op.f("ck_points_ledger_balance_after_non_negative")),
        sa.CheckConstraint("delta_points <> 0", name=op.f("ck_points_ledger_delta_non_zero")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["crypto.users.id"], name=op.f("fk_points_ledger_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_ledger")),
        sa.UniqueConstraint("ref_type", "ref_id", name=op.f("uq_points_ledger_ref_type_ref_id")),
        schema="crypto",
    )
    op.create_index(
        op.f("ix_points_ledger_user_id_id"), "points_ledger", ["user_id", "id"], unique=False, schema="crypto"
    )
    op.create_table(
        "predictions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(length=10), nullable=False),
        sa.Column("choice", sa.Enum("UP", "DOWN", name="choice", schema="crypto"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "CORRECT",
                "INCORRECT",
                "VOID",
                "CANCELLED",
                name="prediction_status",
                schema="crypto",
            ),
            server_default=sa.text("'PENDING'"),
            nullable=False,
        ),
        sa.Column("baseline_price", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("baseline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "submitted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("points_awarded", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("void_reason", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "(status IN ('PENDING', 'CANCELLED')) = (settled_at IS NULL)",
            name=op.f("ck_predictions_settled_at_matches_status"),
        ),
        sa.CheckConstraint(
            "baseline_price IS NULL OR baseline_price > 0", name=op.f("ck_predictions_baseline_positive")
        ),
        sa.CheckConstraint("points_awarded >= 0", name=op.f("ck_predictions_points_awarded_non_negative")),
        sa.ForeignKeyConstraint(
            ["trading_day", "symbol"],
            ["crypto.active_universe.trading_day", "crypto.active_universe.symbol"],
            name="fk_predictions_trading_day_symbol_active_universe",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["crypto.users.id"], name=op.f("fk_predictions_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
        sa.UniqueConstraint(
            "trading_day", "user_id", "symbol", name=op.f("uq_predictions_trading_day_user_id_symbol")
        ),
        schema="crypto",
    )
    op.create_index(
        op.f("ix_predictions_trading_day_symbol_status"),
        "predictions",
        ["trading_day", "symbol", "status"],
        unique=False,
        schema="crypto",
    )
    op.create_index(
        op.f("ix_predictions_user_id_trading_day"),
        "predictions",
        ["user_id", "trading_day"],
        unique=False,
        schema="crypto",
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("jti", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replaced_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint("expires_at > issued_at", name=op.f("ck_refresh_tokens_expires_after_issued")),
        sa.ForeignKeyConstraint(
            ["replaced_by"],
            ["crypto.refresh_tokens.jti"],
            name=op.f("fk_refresh_tokens_replaced_by_refresh_tokens"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["crypto.users.id"], name=op.f("fk_refresh_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
        schema="crypto",
    )
    op.create_index(
        op.f("ix_refresh_tokens_family_id"), "refresh_tokens", ["family_id"], unique=False, schema="crypto"
    )
    op.create_index(
        op.f("ix_refresh_tokens_user_id"), "refresh_tokens", ["user_id"], unique=False, schema="crypto"
    )
    op.create_table(
        "rewards_redemptions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("cost_points", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "REQUESTED",
                "RESERVED",
                "ISSUED",
                "CANCELLED",
                "FAILED",
                name="redemption_status",
                schema="crypto",
            ),
            server_default=sa.text("'REQUESTED'"),
            nullable=False,
        ),
        sa.Column("vendor_code", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'ISSUED') = (vendor_code IS NOT NULL)",
            name=op.f("ck_rewards_redemptions_issued_has_code"),
        ),
        sa.CheckConstraint("cost_points > 0", name=op.f("ck_rewards_redemptions_cost_positive")),
        sa.ForeignKeyConstraint(
            ["sku"],
            ["crypto.rewards_inventory.sku"],
            name=op.f("fk_rewards_redemptions_sku_rewards_inventory"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["crypto.users.id"],
            name=op.f("fk_rewards_redemptions_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rewards_redemptions")),
        schema="crypto",
    )
    op.create_index(
        op.f("ix_rewards_redemptions_status_updated_at"),
        "rewards_redemptions",
        ["status", "updated_at"],
        unique=False,
        schema="crypto",
    )
    op.create_index(
        op.f("ix_rewards_redemptions_user_id_created_at"),
        "rewards_redemptions",
        ["user_id", "created_at"],
        unique=False,
        schema="crypto",
    )
    op.create_table(
        "user_limits",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("base_slots", sa.Integer(), server_default=sa.text("3"), nullable=False),
        sa.Column("used_slots", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("ad_unlocks", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("cooldown_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cooldown_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("ad_unlocks >= 0", name=op.f("ck_user_limits_ad_unlocks_non_negative")),
        sa.CheckConstraint("base_slots >= 0", name=op.f("ck_user_limits_base_slots_non_negative")),
        sa.CheckConstraint(
            "cooldown_until IS NULL OR cooldown_started_at IS NULL OR cooldown_until >= cooldown_started_at",
            name=op.f("ck_user_limits_cooldown_ordered"),
        ),
        sa.CheckConstraint("used_slots >= 0", name=op.f("ck_user_limits_used_slots_non_negative")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["crypto.users.id"], name=op.f("fk_user_limits_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("user_id", "trading_day", name=op.f("pk_user_limits")),
        schema="crypto",
    )


def downgrade() -> None:
    op.drop_table("user_limits", schema="crypto")
    op.drop_index(
        op.f("ix_rewards_redemptions_user_id_created_at"), table_name="rewards_redemptions", schema="crypto"
    )
    op.drop_index(
        op.f("ix_rewards_redemptions_status_updated_at"), table_name="rewards_redemptions", schema="crypto"
    )
    op.drop_table("rewards_redemptions", schema="crypto")
    op.drop_index(op.f("ix_refresh_tokens_user_id"), table_name="refresh_tokens", schema="crypto")
    op.drop_index(op.f("ix_refresh_tokens_family_id"), table_name="refresh_tokens", schema="crypto")
    op.drop_table("refresh_tokens", schema="crypto")
    op.drop_index(op.f("ix_predictions_user_id_trading_day"), table_name="predictions", schema="crypto")
    op.drop_index(op.f("ix_predictions_trading_day_symbol_status"), table_name="predictions", schema="crypto")
    op.drop_table("predictions", schema="crypto")
    op.drop_index(op.f("ix_points_ledger_user_id_id"), table_name="points_ledger", schema="crypto")
    op.drop_table("points_ledger", schema="crypto")
    op.drop_index(op.f("ix_points_holds_user_id_status"), table_name="points_holds", schema="crypto")
    op.drop_table("points_holds", schema="crypto")
    op.drop_table("point_balances", schema="crypto")
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys", schema="crypto")
    op.drop_table("idempotency_keys", schema="crypto")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log", schema="crypto")
    op.drop_index(op.f("ix_audit_log_actor_user_id_at"), table_name="audit_log", schema="crypto")
    op.drop_table("audit_log", schema="crypto")
    op.drop_index(op.f("ix_ad_unlocks_user_id_trading_day"), table_name="ad_unlocks", schema="crypto")
    op.drop_table("ad_unlocks", schema="crypto")
    op.drop_table("users", schema="crypto")
    op.drop_table("settlements", schema="crypto")
    op.drop_table("session_control", schema="crypto")
    op.drop_table("rewards_inventory", schema="crypto")
    op.drop_index(op.f("ix_rate_limits_window_start"), table_name="rate_limits", schema="crypto")
    op.drop_table("rate_limits", schema="crypto")
    op.drop_index(
        "ix_outbox_unpublished",
        table_name="outbox",
        schema="crypto",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_table("outbox", schema="crypto")
    op.drop_index(op.f("ix_oauth_states_expires_at"), table_name="oauth_states", schema="crypto")
    op.drop_table("oauth_states", schema="crypto")
    op.drop_index(op.f("ix_job_runs_started_at"), table_name="job_runs", schema="crypto")
    op.drop_index(op.f("ix_job_runs_job_trading_day"), table_name="job_runs", schema="crypto")
    op.drop_table("job_runs", schema="crypto")
    op.drop_index(op.f("ix_eod_prices_symbol_asof"), table_name="eod_prices", schema="crypto")
    op.drop_table("eod_prices", schema="crypto")
    op.drop_index(
        op.f("ix_eod_fetch_logs_trading_day_created_at"), table_name="eod_fetch_logs", schema="crypto"
    )
    op.drop_table("eod_fetch_logs", schema="crypto")
    op.drop_table("active_universe", schema="crypto")
    for name in ENUM_TYPES:
        op.execute(f"DROP TYPE crypto.{name}")
    # Not CASCADE: if anything that is not ours lives in the schema, stop and say so.
    op.execute("DROP SCHEMA crypto")
