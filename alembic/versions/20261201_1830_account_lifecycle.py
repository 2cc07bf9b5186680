"""Account lifecycle: deactivated accounts anonymised after the grace period

A player's DELETE /v1/users/me records when they asked (`deletion_requested_at`);
signing in again within ACCOUNT_DELETION_GRACE_DAYS clears it, and afterwards a job
erases the account's personal data and records `anonymised_at`. An operator's
suspension (is_active false, no deletion request) is never anonymised.

Revision ID: 0011_account_lifecycle
Revises: 0010_admin_alerts
Create Date: 2026-12-01 18:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011_account_lifecycle"
down_revision: str | None = "0010_admin_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "crypto"


def upgrade() -> None:
    op.add_column("users", sa.Column("deletion_requested_at", sa.DateTime(timezone=True)), schema=S)
    op.add_column("users", sa.Column("anonymised_at", sa.DateTime(timezone=True)), schema=S)
    op.create_check_constraint(
        op.f("ck_users_deletion_only_when_inactive"),
        "users",
        "deletion_requested_at IS NULL OR NOT is_active",
        schema=S,
    )
    # The anonymisation job's work list: accounts waiting out their grace period.
    op.create_index(
        "ix_users_deletion_due",
        "users",
        ["deletion_requested_at"],
        schema=S,
        postgresql_where=sa.text("deletion_requested_at IS NOT NULL AND anonymised_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_users_deletion_due", table_name="users", schema=S)
    op.drop_constraint("ck_users_deletion_only_when_inactive", "users", schema=S)
    op.drop_column("users", "anonymised_at", schema=S)
    op.drop_column("users", "deletion_requested_at", schema=S)
