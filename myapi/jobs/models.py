from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Identity, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base


class JobRun(Base):
    """Every batch step, scheduled or manual: what ran, for which day, and how it ended."""

    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint("status IN ('RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED')", name="status_known"),
        CheckConstraint("finished_at IS NULL OR finished_at >= started_at", name="finish_after_start"),
        Index(None, "job", "trading_day"),
        Index(None, "started_at"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    trading_day: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(16), server_default=text("'RUNNING'"))
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[datetime | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    error: Mapped[str | None] = mapped_column(Text)
