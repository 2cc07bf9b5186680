from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base


class RateLimitWindow(Base):
    """Sliding-window counter: requests of `key` in the fixed window starting at
    window_start (the limiter weights the previous window to slide)."""

    __tablename__ = "rate_limits"
    __table_args__ = (
        CheckConstraint("count >= 0", name="count_non_negative"),
        Index(None, "window_start"),
    )

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
