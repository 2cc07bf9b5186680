from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Identity, Index, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base, created_at_column


class DailySlots(Base):
    """A player's prediction slots for one trading day (the row slot accounting locks)."""

    __tablename__ = "user_limits"
    __table_args__ = (
        CheckConstraint("base_slots >= 0", name="base_slots_non_negative"),
        CheckConstraint("used_slots >= 0", name="used_slots_non_negative"),
        CheckConstraint("ad_unlocks >= 0", name="ad_unlocks_non_negative"),
        CheckConstraint("cooldown_unlocks >= 0", name="cooldown_unlocks_non_negative"),
        CheckConstraint(
            "cooldown_until IS NULL OR cooldown_started_at IS NULL OR cooldown_until >= cooldown_started_at",
            name="cooldown_ordered",
        ),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True)
    trading_day: Mapped[date] = mapped_column(primary_key=True)
    base_slots: Mapped[int] = mapped_column(Integer, server_default=text("3"))
    used_slots: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    ad_unlocks: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # Slots given back by the cooldown timer today (see myapi/slots/policy.py).
    cooldown_unlocks: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    cooldown_started_at: Mapped[datetime | None]
    cooldown_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class AdUnlock(Base):
    """A slot unlocked by a verified ad receipt (nonce single-use) or by the cooldown."""

    __tablename__ = "ad_unlocks"
    __table_args__ = (
        CheckConstraint("method IN ('AD', 'COOLDOWN')", name="method_known"),
        CheckConstraint("unlocked_slots > 0", name="unlocked_positive"),
        CheckConstraint("method <> 'AD' OR receipt_nonce IS NOT NULL", name="ad_has_nonce"),
        Index(None, "user_id", "trading_day"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    trading_day: Mapped[date]
    method: Mapped[str] = mapped_column(String(16))
    unlocked_slots: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    receipt_nonce: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = created_at_column()
