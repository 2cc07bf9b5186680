"""Push notifications: the players' devices, their preferences, and each notification's
delivery state per device.

A delivery row is made for every device of the player by a statement-level trigger on
`crypto.notifications` (AFTER INSERT, over the inserted rows only; see the 0009_push
migration): a new notification, whichever producer inserts it, is queued for push in
the producer's own transaction, and a revision (an UPDATE of the same row) queues
nothing, so it is never pushed twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Time,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base, created_at_column

PLATFORMS = ("ANDROID", "IOS", "WEB")
DELIVERY_STATUSES = ("PENDING", "SENT", "INVALID_TOKEN", "SKIPPED", "FAILED", "EXPIRED")


class PushDevice(Base):
    """A device token of a player. Tokens are globally unique: a token registered by
    another account moves to the new one (as a new device row)."""

    __tablename__ = "push_devices"
    __table_args__ = (
        CheckConstraint("platform IN ('ANDROID', 'IOS', 'WEB')", name="platform_known"),
        Index(None, "user_id", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(1024), unique=True)
    platform: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = created_at_column()
    last_seen_at: Mapped[datetime] = mapped_column(server_default=func.now())


class PushPreferences(Base):
    """A player's push settings; no row means the defaults (every category on, the
    quiet hours of PUSH_QUIET_START/END). Quiet hours are KST wall-clock times, the
    window [start, end) may cross midnight; both NULL means none."""

    __tablename__ = "push_preferences"
    __table_args__ = (
        CheckConstraint("(quiet_start IS NULL) = (quiet_end IS NULL)", name="quiet_hours_pair"),
        CheckConstraint("quiet_start IS NULL OR quiet_start <> quiet_end", name="quiet_hours_not_empty"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    muted_categories: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), server_default=text("'{}'::varchar[]")
    )
    quiet_start: Mapped[time | None] = mapped_column(Time())
    quiet_end: Mapped[time | None] = mapped_column(Time())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class PushDelivery(Base):
    """One notification to one device. PENDING until sent (SENT), given up (FAILED after
    PUSH_MAX_ATTEMPTS tries, or refused by the provider), too old (EXPIRED), not wanted
    (SKIPPED: opted out, player deactivated, device gone, push disabled) or the token
    found invalid (INVALID_TOKEN: the device is deleted). A claim leases the row
    (`lease_token`, `lease_until`) for the send, made outside any transaction.

    `device_id` has no foreign key on purpose: rows are inserted by the trigger inside
    other domains' transactions (a settlement follow-up), which must never fail because
    a device was deleted concurrently; a delivery whose device is gone is SKIPPED."""

    __tablename__ = "push_deliveries"
    __table_args__ = (
        CheckConstraint(
            "status IN ('PENDING', 'SENT', 'INVALID_TOKEN', 'SKIPPED', 'FAILED', 'EXPIRED')",
            name="status_known",
        ),
        Index("ix_push_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'PENDING'")),
        Index(None, "device_id"),
        Index(None, "created_at"),
    )

    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'PENDING'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime]
    lease_token: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None]
