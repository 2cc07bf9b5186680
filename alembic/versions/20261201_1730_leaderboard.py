"""Leaderboard: per-player daily results and period totals

* `player_days`: a player's settled results of one trading day (points won, wins,
  predictions decided), rewritten by each settlement run of the day.
* `leaderboard`: a player's totals per period (`week`, `month`, `all` with its start
  date), refreshed from `player_days` for the players of a settled day, and read in rank
  order through `ix_leaderboard_rank`.

Revision ID: 0007_leaderboard
Revises: 0006_notifications
Create Date: 2026-12-01 17:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007_leaderboard"
down_revision: str | None = "0006_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "crypto"


def upgrade() -> None:
    op.create_table(
        "player_days",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("wins", sa.Integer(), nullable=False),
        sa.Column("predictions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["crypto.users.id"], name=op.f("fk_player_days_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("user_id", "trading_day", name=op.f("pk_player_days")),
        schema=S,
    )
    op.create_index(op.f("ix_player_days_trading_day"), "player_days", ["trading_day"], schema=S)
    op.create_table(
        "leaderboard",
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("wins", sa.Integer(), nullable=False),
        sa.Column("predictions", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["crypto.users.id"], name=op.f("fk_leaderboard_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("period", "period_start", "user_id", name=op.f("pk_leaderboard")),
        schema=S,
    )
    op.create_index(
        "ix_leaderboard_rank", "leaderboard",
        ["period", "period_start", sa.text("points DESC"), sa.text("wins DESC"), "user_id"], schema=S,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_leaderboard_rank", "leaderboard", schema=S)
    op.drop_table("leaderboard", schema=S)
    op.drop_index(op.f("ix_player_days_trading_day"), "player_days", schema=S)
    op.drop_table("player_days", schema=S)
