"""Corporate actions: symbol-days held for review

* `eod_prices.corporate_action`: the split or dividend a provider reported for the day.
* `symbol_day_reviews`: a symbol-day taken out of the automatic settlement — HELD by the
  EOD validation (a close far from its reference price, a reported split or a large
  dividend) until an operator decides SETTLE or VOID, or VOIDED by an operator (halt,
  bad data, corporate action).

Revision ID: 0015_corporate_actions
Revises: 0014_dashboard
Create Date: 2026-12-01 21:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0015_corporate_actions"
down_revision: str | None = "0014_dashboard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "crypto"


def upgrade() -> None:
    op.add_column(
        "eod_prices",
        sa.Column("corporate_action", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema=S,
    )
    op.create_table(
        "symbol_day_reviews",
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=True),
        sa.Column("close_price", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("reference_price", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("move", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("vendor_rev", sa.Integer(), nullable=True),
        sa.Column("provider_action", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('HELD', 'SETTLED', 'VOIDED')", name=op.f("ck_symbol_day_reviews_status_known")
        ),
        sa.CheckConstraint(
            "trigger IS NULL OR trigger IN ('MOVE', 'SPLIT', 'DIVIDEND')",
            name=op.f("ck_symbol_day_reviews_trigger_known"),
        ),
        sa.CheckConstraint(
            "void_reason IS NULL OR void_reason IN ('HALT', 'BAD_DATA', 'CORPORATE_ACTION')",
            name=op.f("ck_symbol_day_reviews_void_reason_known"),
        ),
        sa.CheckConstraint(
            "(status = 'VOIDED') = (void_reason IS NOT NULL)",
            name=op.f("ck_symbol_day_reviews_voided_has_reason"),
        ),
        sa.CheckConstraint(
            "(status = 'HELD') = (decided_at IS NULL)", name=op.f("ck_symbol_day_reviews_decided_unless_held")
        ),
        sa.CheckConstraint(
            "status <> 'HELD' OR trigger IS NOT NULL", name=op.f("ck_symbol_day_reviews_held_has_trigger")
        ),
        sa.PrimaryKeyConstraint("trading_day", "symbol", name=op.f("pk_symbol_day_reviews")),
        schema=S,
    )
    op.create_index(
        op.f("ix_symbol_day_reviews_status_trading_day"),
        "symbol_day_reviews",
        ["status", "trading_day"],
        unique=False,
        schema=S,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_symbol_day_reviews_status_trading_day"), table_name="symbol_day_reviews", schema=S)
    op.drop_table("symbol_day_reviews", schema=S)
    op.drop_column("eod_prices", "corporate_action", schema=S)
