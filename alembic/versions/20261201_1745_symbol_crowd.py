"""Crowd sentiment: per symbol and day, the UP / DOWN split and who was right

Counted from the predictions at the cutoff and again by every settlement run, so the
figures are exact; shown only once the day no longer accepts predictions.

Revision ID: 0008_symbol_crowd
Revises: 0007_leaderboard
Create Date: 2026-12-01 17:45:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008_symbol_crowd"
down_revision: str | None = "0007_leaderboard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "crypto"


def upgrade() -> None:
    op.create_table(
        "symbol_crowd",
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(length=10), nullable=False),
        sa.Column("up", sa.Integer(), nullable=False),
        sa.Column("down", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("decided", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("trading_day", "symbol", name=op.f("pk_symbol_crowd")),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("symbol_crowd", schema=S)
