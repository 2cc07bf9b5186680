"""Settlement speed: HOT updates for predictions and balances

Settling a day rewrites every prediction of the day (status, points, settled_at) and
every winner's balance. With free space on each page and no index on a column the
update changes, PostgreSQL updates the row in place (a heap-only tuple: no new index
entries), which is what makes a 1M-prediction settlement fit its time budget:

* predictions, point_balances: fillfactor 50 (each row is rewritten about once a day);
* the predictions index (trading_day, symbol, status) becomes (trading_day, symbol):
  status changes at settlement, and no query needs it in the index.

The index is built and the old one dropped CONCURRENTLY, so deploying this does not
block submits (if a concurrent build fails it leaves an INVALID index: drop it, re-run).
The fillfactor applies to pages written from now on; `VACUUM FULL crypto.predictions`
(or pg_repack) rewrites existing pages with it, if ever wanted.

Revision ID: 0003_settlement_hot_updates
Revises: 0002_cooldown_unlocks
Create Date: 2026-11-23 18:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_settlement_hot_updates"
down_revision: str | None = "0002_cooldown_unlocks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _swap_index(create: str, columns: list[str], drop: str) -> None:
    """Build `create` on predictions, then drop `drop` — CONCURRENTLY, outside a
    transaction, so players keep submitting while the index builds."""
    with op.get_context().autocommit_block():
        op.create_index(
            op.f(create),
            "predictions",
            columns,
            unique=False,
            schema="crypto",
            postgresql_concurrently=True,
            if_not_exists=True,
        )
        op.drop_index(
            op.f(drop),
            table_name="predictions",
            schema="crypto",
            postgresql_concurrently=True,
            if_exists=True,
        )


def upgrade() -> None:
    # Storage parameters only: no table rewrite, and the lock taken does not block reads
    # or writes.
    op.execute("ALTER TABLE crypto.predictions SET (fillfactor = 50)")
    op.execute("ALTER TABLE crypto.point_balances SET (fillfactor = 50)")
    _swap_index(
        "ix_predictions_trading_day_symbol",
        ["trading_day", "symbol"],
        "ix_predictions_trading_day_symbol_status",
    )


def downgrade() -> None:
    _swap_index(
        "ix_predictions_trading_day_symbol_status",
        ["trading_day", "symbol", "status"],
        "ix_predictions_trading_day_symbol",
    )
    op.execute("ALTER TABLE crypto.point_balances RESET (fillfactor)")
    op.execute("ALTER TABLE crypto.predictions RESET (fillfactor)")
