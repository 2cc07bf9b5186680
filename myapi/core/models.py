"""Cross-cutting tables: idempotency keys and rate-limit windows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base, created_at_column


class IdempotencyKey(Base):
    """A client's Idempotency-Key: the request fingerprint and, once done, the response
    to replay. response_status NULL means the first request is still in flight."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        CheckConstraint("expires_at > created_at", name="expires_after_created"),
        Index(None, "expires_at"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime]
