"""Admin alerts: what was sent to the operators' webhook, for deduplication and throttling

One row per alert key (kind + subject, e.g. `JOB_FAILED:settlement.run:2026-11-27`):
the latest occurrence's message, the occurrences not reported yet, when a message was
last delivered (throttling) and the claim of the process posting it now (a lease).

Revision ID: 0010_admin_alerts
Revises: 0009_push
Create Date: 2026-12-01 18:15:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0010_admin_alerts"
down_revision: str | None = "0009_push"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "crypto"


def upgrade() -> None:
    op.create_table(
        "admin_alerts",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column(
            "lines",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("occurrences", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("pending", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("sends", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claim_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("pending >= 0", name=op.f("ck_admin_alerts_pending_non_negative")),
        sa.CheckConstraint(
            "(claim_token IS NULL) = (claim_until IS NULL)", name=op.f("ck_admin_alerts_claim_complete")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_admin_alerts")),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("admin_alerts", schema=S)
