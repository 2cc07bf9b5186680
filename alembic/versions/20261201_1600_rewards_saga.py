"""Rewards: the redemption saga's state, issued stock, and holds that expire

* `rewards_inventory.issued`: codes handed out. Stock is split into available, reserved
  (a saga in flight) and issued; `reserved + issued <= stock` replaces
  `reserved <= stock`.
* `rewards_redemptions`: the vendor the redemption was priced with, its idempotency key
  at the vendor (a UUID: unique across databases sharing a vendor account, unlike the
  id), what the saga knows of its vendor order (first request, attempts, the last answer
  and when it was read, the lease of a call in flight), and `retry_of` for an
  operator's retry of a FAILED redemption (a new redemption, at most one).
* `points_holds.expires_at`: a hold is a two-phase transfer with a timeout; an OPEN hold
  past it is a saga the sweeper resumes or compensates (and an integrity failure if it
  stays so).

Revision ID: 0005_rewards_saga
Revises: 0004_universe_previous_close
Create Date: 2026-12-01 16:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005_rewards_saga"
down_revision: str | None = "0004_universe_previous_close"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "crypto"


def upgrade() -> None:
    op.add_column(
        "rewards_inventory", sa.Column("issued", sa.Integer(), server_default=sa.text("0"), nullable=False),
        schema=S,
    )  # fmt: skip
    op.drop_constraint(
        op.f("ck_rewards_inventory_reserved_within_stock"), "rewards_inventory", schema=S, type_="check"
    )
    op.create_check_constraint(
        op.f("ck_rewards_inventory_counts_within_stock"),
        "rewards_inventory",
        "reserved >= 0 AND issued >= 0 AND reserved + issued <= stock",
        schema=S,
    )
    for column in (
        sa.Column("vendor", sa.String(length=64), nullable=True),
        sa.Column("vendor_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("vendor_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("vendor_state", sa.String(length=16), nullable=True),
        sa.Column("vendor_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("vendor_call_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("vendor_last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("vendor_key", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("retry_of", sa.BigInteger(), nullable=True),
    ):
        op.add_column("rewards_redemptions", column, schema=S)
    op.execute(
        "UPDATE crypto.rewards_redemptions r SET vendor = i.vendor "
        "FROM crypto.rewards_inventory i WHERE i.sku = r.sku"
    )
    op.alter_column("rewards_redemptions", "vendor", nullable=False, schema=S)
    op.create_foreign_key(
        op.f("fk_rewards_redemptions_retry_of_rewards_redemptions"),
        "rewards_redemptions", "rewards_redemptions", ["retry_of"], ["id"],
        source_schema=S, referent_schema=S, ondelete="RESTRICT",
    )  # fmt: skip
    op.create_unique_constraint(
        op.f("uq_rewards_redemptions_vendor_key"), "rewards_redemptions", ["vendor_key"], schema=S
    )
    # A FAILED redemption is retried at most once.
    op.create_index(
        op.f("ix_rewards_redemptions_retry_of"), "rewards_redemptions", ["retry_of"], unique=True, schema=S,
        postgresql_where=sa.text("retry_of IS NOT NULL"),
    )  # fmt: skip
    op.create_check_constraint(
        op.f("ck_rewards_redemptions_vendor_state_known"),
        "rewards_redemptions",
        "vendor_state IS NULL OR vendor_state IN ('PENDING', 'UNKNOWN', 'UNAVAILABLE', 'ORPHANED')",
        schema=S,
    )
    op.add_column(
        "points_holds", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True), schema=S
    )
    op.execute("UPDATE crypto.points_holds SET expires_at = created_at + interval '15 minutes'")
    op.alter_column("points_holds", "expires_at", nullable=False, schema=S)
    # The sweeper's and the integrity check's scan: open holds by expiry.
    op.create_index(
        op.f("ix_points_holds_expires_at"), "points_holds", ["expires_at"], schema=S,
        postgresql_where=sa.text("status = 'OPEN'"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index(op.f("ix_points_holds_expires_at"), "points_holds", schema=S)
    op.drop_column("points_holds", "expires_at", schema=S)
    op.drop_constraint(
        op.f("ck_rewards_redemptions_vendor_state_known"), "rewards_redemptions", schema=S, type_="check"
    )
    op.drop_index(op.f("ix_rewards_redemptions_retry_of"), "rewards_redemptions", schema=S)
    op.drop_constraint(
        op.f("uq_rewards_redemptions_vendor_key"), "rewards_redemptions", schema=S, type_="unique"
    )
    op.drop_constraint(
        op.f("fk_rewards_redemptions_retry_of_rewards_redemptions"), "rewards_redemptions", schema=S,
        type_="foreignkey",
    )  # fmt: skip
    for name in (
        "retry_of", "vendor_key", "vendor_last_attempt_at", "vendor_call_until", "vendor_checked_at",
        "vendor_state", "vendor_attempts", "vendor_requested_at", "vendor",
    ):  # fmt: skip
        op.drop_column("rewards_redemptions", name, schema=S)
    op.drop_constraint(
        op.f("ck_rewards_inventory_counts_within_stock"), "rewards_inventory", schema=S, type_="check"
    )
    op.create_check_constraint(
        op.f("ck_rewards_inventory_reserved_within_stock"),
        "rewards_inventory",
        "reserved >= 0 AND reserved <= stock",
        schema=S,
    )
    op.drop_column("rewards_inventory", "issued", schema=S)
