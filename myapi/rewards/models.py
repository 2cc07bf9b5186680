from __future__ import annotations

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
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base, created_at_column
from myapi.core.enums import REDEMPTION_STATUS, RedemptionStatus


class RewardInventory(Base):
    __tablename__ = "rewards_inventory"
    __table_args__ = (
        CheckConstraint("cost_points > 0", name="cost_positive"),
        CheckConstraint("stock >= 0", name="stock_non_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= stock", name="reserved_within_stock"),
    )

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    cost_points: Mapped[int]
    stock: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    reserved: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    vendor: Mapped[str] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class RewardRedemption(Base):
    """One redemption saga: REQUESTED -> RESERVED -> ISSUED, or CANCELLED/FAILED."""

    __tablename__ = "rewards_redemptions"
    __table_args__ = (
        CheckConstraint("cost_points > 0", name="cost_positive"),
        CheckConstraint("(status = 'ISSUED') = (vendor_code IS NOT NULL)", name="issued_has_code"),
        Index(None, "user_id", "created_at"),
        Index(None, "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    sku: Mapped[str] = mapped_column(ForeignKey("rewards_inventory.sku", ondelete="RESTRICT"))
    cost_points: Mapped[int]
    status: Mapped[RedemptionStatus] = mapped_column(REDEMPTION_STATUS, server_default=text("'REQUESTED'"))
    vendor_code: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    reserved_at: Mapped[datetime | None]
    issued_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
