"""Notifications: the player's in-app inbox

One row per notification; (user_id, dedup_key) unique, so the event that produces one,
delivered any number of times, makes one. Read newest news first per player
(created_at, id: a revised notification takes a new created_at); unread counted through
a partial index.

Revision ID: 0006_notifications
Revises: 0005_rewards_saga
Create Date: 2026-12-01 17:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0006_notifications"
down_revision: str | None = "0005_rewards_saga"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "crypto"


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["crypto.users.id"], name=op.f("fk_notifications_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("user_id", "dedup_key", name=op.f("uq_notifications_user_id_dedup_key")),
        schema=S,
    )
    op.create_index(
        op.f("ix_notifications_user_id_created_at_id"),
        "notifications",
        ["user_id", "created_at", "id"],
        schema=S,
    )
    op.create_index(
        "ix_notifications_unread", "notifications", ["user_id"], schema=S,
        postgresql_where=sa.text("read_at IS NULL"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_notifications_unread", "notifications", schema=S)
    op.drop_index(op.f("ix_notifications_user_id_created_at_id"), "notifications", schema=S)
    op.drop_table("notifications", schema=S)
