"""Push: devices, per-category preferences, and each notification's push delivery state

* `push_devices`: a player's device tokens (a token is globally unique).
* `push_preferences`: muted categories and quiet hours (KST) per player; no row means
  the defaults.
* `push_deliveries`: one row per (notification, device), PENDING until sent, given up,
  skipped or expired; claimed with a lease by the delivery job (`ix_push_deliveries_due`).
* The trigger `trg_notifications_push` (AFTER INSERT ... FOR EACH STATEMENT, over the
  inserted rows only) queues every new notification for each device its player has,
  inside the producer's transaction. `INSERT ... ON CONFLICT DO UPDATE` puts only the
  rows it really inserted in the transition table, so a revised notification (updated
  in place) is not queued again.

Revision ID: 0009_push
Revises: 0008_symbol_crowd
Create Date: 2026-12-01 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0009_push"
down_revision: str | None = "0008_symbol_crowd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "crypto"

QUEUE_FUNCTION = f"""
CREATE FUNCTION {S}.push_queue_new_notifications() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- One delivery per device of each new notification's player, due at once; the
    -- delivery job applies the rules (active player, opt-outs, quiet hours, age).
    INSERT INTO {S}.push_deliveries (notification_id, device_id, next_attempt_at, created_at, updated_at)
    SELECT n.id, d.id, n.created_at, n.created_at, n.created_at
    FROM new_notifications n
    JOIN {S}.push_devices d ON d.user_id = n.user_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$
"""

QUEUE_TRIGGER = f"""
CREATE TRIGGER trg_notifications_push
AFTER INSERT ON {S}.notifications
REFERENCING NEW TABLE AS new_notifications
FOR EACH STATEMENT EXECUTE FUNCTION {S}.push_queue_new_notifications()
"""


def upgrade() -> None:
    op.create_table(
        "push_devices",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.String(length=1024), nullable=False),
        sa.Column("platform", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "last_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "platform IN ('ANDROID', 'IOS', 'WEB')", name=op.f("ck_push_devices_platform_known")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["crypto.users.id"], name=op.f("fk_push_devices_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_devices")),
        sa.UniqueConstraint("token", name=op.f("uq_push_devices_token")),
        schema=S,
    )
    op.create_index(
        op.f("ix_push_devices_user_id_last_seen_at"), "push_devices", ["user_id", "last_seen_at"], schema=S
    )
    op.create_table(
        "push_preferences",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "muted_categories",
            postgresql.ARRAY(sa.String(length=32)),
            server_default=sa.text("'{}'::varchar[]"),
            nullable=False,
        ),
        sa.Column("quiet_start", sa.Time(), nullable=True),
        sa.Column("quiet_end", sa.Time(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(quiet_start IS NULL) = (quiet_end IS NULL)", name=op.f("ck_push_preferences_quiet_hours_pair")
        ),
        sa.CheckConstraint(
            "quiet_start IS NULL OR quiet_start <> quiet_end",
            name=op.f("ck_push_preferences_quiet_hours_not_empty"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["crypto.users.id"],
            name=op.f("fk_push_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_push_preferences")),
        schema=S,
    )
    op.create_table(
        "push_deliveries",
        sa.Column("notification_id", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'PENDING'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_token", sa.Uuid(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING', 'SENT', 'INVALID_TOKEN', 'SKIPPED', 'FAILED', 'EXPIRED')",
            name=op.f("ck_push_deliveries_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["crypto.notifications.id"],
            name=op.f("fk_push_deliveries_notification_id_notifications"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("notification_id", "device_id", name=op.f("pk_push_deliveries")),
        schema=S,
    )
    op.create_index(
        "ix_push_deliveries_due", "push_deliveries", ["next_attempt_at"], schema=S,
        postgresql_where=sa.text("status = 'PENDING'"),
    )  # fmt: skip
    op.create_index(op.f("ix_push_deliveries_device_id"), "push_deliveries", ["device_id"], schema=S)
    op.create_index(op.f("ix_push_deliveries_created_at"), "push_deliveries", ["created_at"], schema=S)
    op.execute(QUEUE_FUNCTION)
    op.execute(QUEUE_TRIGGER)


def downgrade() -> None:
    op.execute(f"DROP TRIGGER trg_notifications_push ON {S}.notifications")
    op.execute(f"DROP FUNCTION {S}.push_queue_new_notifications()")
    op.drop_index(op.f("ix_push_deliveries_created_at"), "push_deliveries", schema=S)
    op.drop_index(op.f("ix_push_deliveries_device_id"), "push_deliveries", schema=S)
    op.drop_index("ix_push_deliveries_due", "push_deliveries", schema=S)
    op.drop_table("push_deliveries", schema=S)
    op.drop_table("push_preferences", schema=S)
    op.drop_index(op.f("ix_push_devices_user_id_last_seen_at"), "push_devices", schema=S)
    op.drop_table("push_devices", schema=S)
