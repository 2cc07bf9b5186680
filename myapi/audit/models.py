from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Identity, Index, SmallInteger, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base


class AuditLog(Base):
    """Every admin and internal write: who did what to which target.

    Two kinds of row: one per /admin or /internal write request (written by the audit
    middleware after the response: `status` is what the call answered, `request_id`
    joins the access log), and the domain records services and batch steps write with
    the details of a change (before/after, reasons; `status` NULL)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index(None, "at"),
        Index(None, "actor_user_id", "at"),
        Index(None, "action", "at"),
        Index(None, "target", "at"),
        Index(None, "actor", "at"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    actor: Mapped[str] = mapped_column(String(100))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    request_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[int | None] = mapped_column(SmallInteger)
