"""Universe: the previous official close beside the baseline

The baseline of a symbol is the last official close when its day opens and is then
refreshed with the latest price while predictions are open; the previous close is kept
apart so that players see the change since it (GET /v1/universe/today), and the refresh
job has the official close to fall back on.

Revision ID: 0004_universe_previous_close
Revises: 0003_settlement_hot_updates
Create Date: 2026-12-01 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004_universe_previous_close"
down_revision: str | None = "0003_settlement_hot_updates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "active_universe", sa.Column("previous_close", sa.Numeric(18, 6), nullable=True), schema="crypto"
    )
    op.create_check_constraint(
        op.f("ck_active_universe_previous_close_positive"),
        "active_universe",
        "previous_close IS NULL OR previous_close > 0",
        schema="crypto",
    )
    # Until now the baseline was always the previous close.
    op.execute(
        "UPDATE crypto.active_universe SET previous_close = baseline_price WHERE baseline_price IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_active_universe_previous_close_positive"), "active_universe", schema="crypto", type_="check"
    )
    op.drop_column("active_universe", "previous_close", schema="crypto")
