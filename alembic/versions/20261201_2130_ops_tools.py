"""Operator tools: suspensions, and the indexes of the admin user search

An operator's suspension (`POST /admin/users/{id}/suspend`) is recorded apart from a
player's deletion request: `suspended_at` / `suspension_reason`. A suspended account is
never active, and signing in again does not give it back (the deleted-account
reactivation path only applies to `deletion_requested_at`).

The admin user search (`GET /admin/users?q=`) matches a case-insensitive substring or
prefix of the email or the nickname (ILIKE): trigram GIN indexes (pg_trgm) serve both.
Emails are stored lower-case; nicknames are not, ILIKE needs no lower() index with
trigrams. The extension is created in `public` if absent and left there on downgrade
(other objects may use it).

EOD backfills need no table: each backfill is its `eod.backfill` job_runs row, and the
progress of its days is read from their `eod.fetch` runs.

Revision ID: 0016_ops_tools
Revises: 0015_corporate_actions
Create Date: 2026-12-01 21:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0016_ops_tools"
down_revision: str | None = "0015_corporate_actions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "crypto"


def upgrade() -> None:
    op.add_column("users", sa.Column("suspended_at", sa.DateTime(timezone=True)), schema=S)
    op.add_column("users", sa.Column("suspension_reason", sa.String(500)), schema=S)
    op.create_check_constraint(
        op.f("ck_users_suspended_only_when_inactive"),
        "users",
        "suspended_at IS NULL OR NOT is_active",
        schema=S,
    )
    op.create_check_constraint(
        op.f("ck_users_suspension_with_reason"),
        "users",
        "(suspended_at IS NULL) = (suspension_reason IS NULL)",
        schema=S,
    )
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
    for column in ("email", "nickname"):
        op.create_index(
            f"ix_users_{column}_trgm",
            "users",
            [column],
            schema=S,
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    for column in ("nickname", "email"):
        op.drop_index(f"ix_users_{column}_trgm", table_name="users", schema=S)
    op.drop_constraint("ck_users_suspension_with_reason", "users", schema=S)
    op.drop_constraint("ck_users_suspended_only_when_inactive", "users", schema=S)
    op.drop_column("users", "suspension_reason", schema=S)
    op.drop_column("users", "suspended_at", schema=S)
