"""Dashboard daily summaries

* `dashboard_days`: one settled trading day's figures (predictions, participants, DAU,
  outcomes, points issued and spent), written by the settlement follow-up job;
  `dashboard_symbol_days`: the same day per symbol. See myapi/dashboard/service.py.
* Indexes the dashboard reads through, on tables other domains own (declared in
  myapi/dashboard/models.py):
  - `ix_points_ledger_trading_day` (partial: the settlement's entries): a day's
    settlement entries are summed by the follow-up without scanning the ledger;
  - `ix_points_ledger_created_at_untied` (partial: every other entry, with user_id and
    delta_points): a game day's bonuses, redemptions and adjustments from the index
    alone; the settlement's bulk inserts do not maintain it;
  - `ix_job_runs_job_id`: the last run of each job in one descent per job.
  They are built CONCURRENTLY (outside a transaction), so deploying this does not block
  ledger writes; a failed concurrent build leaves an INVALID index: drop it, re-run.

Days settled before this revision have no summary row and are counted live (correct,
but a day of 1M predictions costs about a second): `python -m myapi.dashboard.rebuild`
writes them (docs/operations.md).

Revision ID: 0014_dashboard
Revises: 0013_audit_requests
Create Date: 2026-12-01 21:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014_dashboard"
down_revision: str | None = "0013_audit_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "crypto"
_DAY_COUNTS = (
    "predictions >= 0 AND participants >= 0 AND dau >= participants AND correct >= 0 "
    "AND incorrect >= 0 AND void >= 0 AND correct + incorrect + void <= predictions "
    "AND points_issued >= 0 AND points_spent >= 0"
)
_SYMBOL_COUNTS = "correct >= 0 AND incorrect >= 0 AND void >= 0 AND correct + incorrect + void <= predictions"


def upgrade() -> None:
    op.create_table(
        "dashboard_days",
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("predictions", sa.Integer(), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("dau", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("incorrect", sa.Integer(), nullable=False),
        sa.Column("void", sa.Integer(), nullable=False),
        sa.Column("points_issued", sa.BigInteger(), nullable=False),
        sa.Column("points_spent", sa.BigInteger(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_DAY_COUNTS, name=op.f("ck_dashboard_days_counts_consistent")),
        sa.CheckConstraint("window_end > window_start", name=op.f("ck_dashboard_days_window_ordered")),
        sa.PrimaryKeyConstraint("trading_day", name=op.f("pk_dashboard_days")),
        schema=S,
    )
    op.create_table(
        "dashboard_symbol_days",
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(length=10), nullable=False),
        sa.Column("predictions", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("incorrect", sa.Integer(), nullable=False),
        sa.Column("void", sa.Integer(), nullable=False),
        sa.CheckConstraint(_SYMBOL_COUNTS, name=op.f("ck_dashboard_symbol_days_counts_consistent")),
        sa.PrimaryKeyConstraint("trading_day", "symbol", name=op.f("pk_dashboard_symbol_days")),
        schema=S,
    )
    with op.get_context().autocommit_block():
        op.create_index(
            op.f("ix_points_ledger_trading_day"), "points_ledger", ["trading_day"], unique=False, schema=S,
            postgresql_where=sa.text("trading_day IS NOT NULL"), postgresql_concurrently=True,
            if_not_exists=True,
        )  # fmt: skip
        op.create_index(
            op.f("ix_points_ledger_created_at_untied"), "points_ledger", ["created_at"], unique=False,
            schema=S, postgresql_include=["user_id", "delta_points"],
            postgresql_where=sa.text("trading_day IS NULL"), postgresql_concurrently=True, if_not_exists=True,
        )  # fmt: skip
        op.create_index(
            op.f("ix_job_runs_job_id"), "job_runs", ["job", "id"], unique=False, schema=S,
            postgresql_concurrently=True, if_not_exists=True,
        )  # fmt: skip


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for table, index in (
            ("job_runs", "ix_job_runs_job_id"),
            ("points_ledger", "ix_points_ledger_created_at_untied"),
            ("points_ledger", "ix_points_ledger_trading_day"),
        ):
            op.drop_index(
                op.f(index), table_name=table, schema=S, postgresql_concurrently=True, if_exists=True
            )
    op.drop_table("dashboard_symbol_days", schema=S)
    op.drop_table("dashboard_days", schema=S)
