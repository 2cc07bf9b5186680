from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base


class AdminAlert(Base):
    """One alert key (kind + subject): the latest occurrence's message, how many
    occurrences are not reported yet (`pending`), when a message was last delivered
    (`sent_at`, what throttling measures), and who is posting it right now (the claim,
    a lease of the sender's longest post)."""

    __tablename__ = "admin_alerts"
    __table_args__ = (
        CheckConstraint("pending >= 0", name="pending_non_negative"),
        CheckConstraint("(claim_token IS NULL) = (claim_until IS NULL)", name="claim_complete"),
    )

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    lines: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    occurrences: Mapped[int] = mapped_column(server_default=text("0"))
    pending: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    sends: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claim_until: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
