"""SQL for the audit log. Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from myapi.audit.models import AuditLog
from myapi.core.request_context import current_request_id


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    at_from: datetime | None = None
    at_to: datetime | None = None  # exclusive


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self,
        *,
        actor: str,
        action: str,
        target: str | None,
        payload: dict[str, Any],
        now: datetime,
        actor_user_id: int | None = None,
        status: int | None = None,
        request_id: str | None = None,
    ) -> int:
        """One audit row; `request_id` defaults to the request being served (if any)."""
        entry = AuditLog(
            actor=actor[:100],
            actor_user_id=actor_user_id,
            action=action[:100],
            target=target[:200] if target is not None else None,
            payload=payload,
            at=now,
            status=status,
            request_id=request_id or current_request_id(),
        )
        self.session.add(entry)
        self.session.flush()
        return entry.id

    def search(self, where: AuditFilter, limit: int, offset: int) -> tuple[list[AuditLog], int]:
        """Newest first. Each filter is an equality (an index of (column, at) serves it),
        except `target`, which also matches a prefix ending in ':' (`user:` = every user)."""
        query = select(AuditLog)
        if where.actor is not None:
            query = query.where(AuditLog.actor == where.actor)
        if where.action is not None:
            query = query.where(AuditLog.action == where.action)
        if where.target is not None:
            if where.target.endswith(":"):
                query = query.where(AuditLog.target.startswith(where.target, autoescape=True))
            else:
                query = query.where(AuditLog.target == where.target)
        if where.at_from is not None:
            query = query.where(AuditLog.at >= where.at_from)
        if where.at_to is not None:
            query = query.where(AuditLog.at < where.at_to)
        total = self.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = self.session.scalars(
            query.order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit).offset(offset)
        ).all()
        return list(rows), int(total)
