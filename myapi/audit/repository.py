"""SQL for the audit log. Never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from myapi.audit.models import AuditLog


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
    ) -> int:
        entry = AuditLog(
            actor=actor,
            actor_user_id=actor_user_id,
            action=action,
            target=target,
            payload=payload,
            at=now,
        )
        self.session.add(entry)
        self.session.flush()
        return entry.id
