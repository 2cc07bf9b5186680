"""user_limits.cooldown_unlocks: slots recovered by the cooldown timer

Revision ID: 0002_cooldown_unlocks
Revises: 0001_initial_schema
Create Date: 2026-11-23 15:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002_cooldown_unlocks"
down_revision: str | None = "0001_initial_schema"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "user_limits",
        sa.Column("cooldown_unlocks", sa.Integer(), server_default=sa.text("0"), nullable=False),
        schema="crypto",
    )
    op.create_check_constraint(
        op.f("ck_user_limits_cooldown_unlocks_non_negative"),
        "user_limits",
        "cooldown_unlocks >= 0",
        schema="crypto",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_user_limits_cooldown_unlocks_non_negative"), "user_limits", schema="crypto", type_="check"
    )
    op.drop_column("user_limits", "cooldown_unlocks", schema="crypto")
