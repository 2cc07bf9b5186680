from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base, created_at_column
from myapi.core.enums import HOLD_STATUS, HoldStatus


class PointBalance(Base):
    """The fast balance and the row every point change locks first. Fillfactor 50
    (migration 0003) so balance updates stay HOT."""

    __tablename__ = "point_balances"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_non_negative"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True)
    balance: Mapped[int] = mapped_column(server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class PointsLedgerEntry(Base):
    """Append-only. (ref_type, ref_id) is unique, so a retried change is a no-op."""

    __tablename__ = "points_ledger"
    __table_args__ = (
        UniqueConstraint("ref_type", "ref_id"),
        CheckConstraint("delta_points <> 0", name="delta_non_zero"),
        CheckConstraint("balance_after >= 0", name="balance_after_non_negative"),
        Index(None, "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    delta_points: Mapped[int]
    reason: Mapped[str] = mapped_column(String(64))
    ref_type: Mapped[str] = mapped_column(String(32))
    ref_id: Mapped[str] = mapped_column(String(200))
    balance_after: Mapped[int]
    trading_day: Mapped[date | None]
    symbol: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = created_at_column()


class PointsHold(Base):
    """A two-phase transfer: points set aside (OPEN) without moving, then either
    COMMITTED (the debit lands in the ledger with the same ref) or CANCELLED (voided),
    never both. Open holds never exceed the balance; an OPEN hold past `expires_at` is
    a stuck saga."""

    __tablename__ = "points_holds"
    __table_args__ = (
        UniqueConstraint("ref_type", "ref_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index(None, "user_id", "status"),
        Index(None, "expires_at", postgresql_where=text("status = 'OPEN'")),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    amount: Mapped[int]
    ref_type: Mapped[str] = mapped_column(String(32))
    ref_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[HoldStatus] = mapped_column(HOLD_STATUS, server_default=text("'OPEN'"))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
