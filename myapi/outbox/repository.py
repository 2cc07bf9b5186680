"""SQL for the transactional outbox. Never commits: events commit with the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.outbox.models import OutboxEvent


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        topic: str,
        payload: dict[str, Any],
        *,
        now: datetime,
        group_id: str | None = None,
        dedup_id: str | None = None,
    ) -> None:
        """Append an event in the caller's transaction (published later by the relay)."""
        self.session.execute(
            insert(OutboxEvent).values(
                topic=topic,
                payload=payload,
                group_id=group_id,
                dedup_id=dedup_id,
                created_at=now,
                next_attempt_at=now,
            )
        )
