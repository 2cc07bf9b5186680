from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base, created_at_column
from myapi.core.enums import REDEMPTION_STATUS, RedemptionStatus


class RewardInventory(Base):
    """A reward SKU. Its stock is available, reserved (a saga in flight) or issued:
    `reserved + issued <= stock`, so a code is never promised twice."""

    __tablename__ = "rewards_inventory"
    __table_args__ = (
        CheckConstraint("cost_points > 0", name="cost_positive"),
        CheckConstraint("stock >= 0", name="stock_non_negative"),
        CheckConstraint(
            "reserved >= 0 AND issued >= 0 AND reserved + issued <= stock", name="counts_within_stock"
        ),
    )

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    cost_points: Mapped[int]
    stock: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    reserved: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    issued: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    vendor: Mapped[str] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())

    @property
    def available(self) -> int:
        return self.stock - self.reserved - self.issued


class RewardRedemption(Base):
    """One redemption saga: REQUESTED -> (hold) -> RESERVED -> ISSUED, or CANCELLED /
    FAILED after compensation. The vendor columns are what the saga knows of its vendor
    order (the idempotency key is the redemption id)."""

    __tablename__ = "rewards_redemptions"
    __table_args__ = (
        CheckConstraint("cost_points > 0", name="cost_positive"),
        CheckConstraint("(status = 'ISSUED') = (vendor_code IS NOT NULL)", name="issued_has_code"),
        CheckConstraint(
            "vendor_state IS NULL OR vendor_state IN ('PENDING', 'UNKNOWN', 'UNAVAILABLE', 'ORPHANED')",
            name="vendor_state_known",
        ),
        Index(None, "user_id", "created_at"),
        Index(None, "status", "updated_at"),
        # A FAILED redemption is retried at most once.
        Index(None, "retry_of", unique=True, postgresql_where=text("retry_of IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    sku: Mapped[str] = mapped_column(ForeignKey("rewards_inventory.sku", ondelete="RESTRICT"))
    cost_points: Mapped[int]
    vendor: Mapped[str] = mapped_column(String(64))
    status: Mapped[RedemptionStatus] = mapped_column(REDEMPTION_STATUS, server_default=text("'REQUESTED'"))
    vendor_code: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # The vendor order: its idempotency key; first and last asked at, issue calls made, the last
    # non-final answer (PENDING; UNKNOWN after a timeout; UNAVAILABLE: not accepted;
    # ORPHANED on a final redemption: a code arrived after it was compensated) and when
    # it was read; until when a call in flight may still answer (its lease).
    vendor_key: Mapped[uuid.UUID] = mapped_column(
        Uuid, unique=True, server_default=text("gen_random_uuid()"), default=uuid.uuid4
    )
    vendor_requested_at: Mapped[datetime | None]
    vendor_last_attempt_at: Mapped[datetime | None]
    vendor_attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    vendor_state: Mapped[str | None] = mapped_column(String(16))
    vendor_checked_at: Mapped[datetime | None]
    vendor_call_until: Mapped[datetime | None]
    retry_of: Mapped[int | None] = mapped_column(ForeignKey("rewards_redemptions.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    reserved_at: Mapped[datetime | None]
    issued_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    def __repr__(self) -> str:  # never the code
        return f"RewardRedemption(id={self.id!r}, sku={self.sku!r}, status={self.status!r})"
