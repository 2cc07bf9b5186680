"""Audit of every admin and internal write; the maintenance-mode flag

* `audit_log` gains `request_id` (the X-Request-ID of the call, to join with the access
  log) and `status` (the HTTP status the call answered; NULL for rows written by a
  service or a batch step, not by a request), and indexes for the operators' filters
  (action, target, actor — each newest first).
* `system_flags`: operator switches shared by every instance (one row per flag; today
  `maintenance`: {enabled, message, retry_after_s}).

Revision ID: 0013_audit_requests
Revises: 0012_leaderboard_rank
Create Date: 2026-12-01 21:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0013_audit_requests"
down_revision: str | None = "0012_leaderboard_rank"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("request_id", sa.String(length=128), nullable=True), schema="crypto")
    op.add_column("audit_log", sa.Column("status", sa.SmallInteger(), nullable=True), schema="crypto")
    for column in ("action", "target", "actor"):
        op.create_index(
            op.f(f"ix_audit_log_{column}_at"), "audit_log", [column, "at"], unique=False, schema="crypto"
        )
    op.create_table(
        "system_flags",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_system_flags")),
        schema="crypto",
    )


def downgrade() -> None:
    op.drop_table("system_flags", schema="crypto")
    for column in ("action", "target", "actor"):
        op.drop_index(op.f(f"ix_audit_log_{column}_at"), table_name="audit_log", schema="crypto")
    op.drop_column("audit_log", "status", schema="crypto")
    op.drop_column("audit_log", "request_id", schema="crypto")
