"""SQL for the transactional outbox. Never commits: events commit with the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from myapi.outbox.models import OutboxEvent

# A constant statement: most player writes append an event.
_ADD = text(
    "INSERT INTO crypto.outbox (topic, payload, group_id, dedup_id, created_at, next_attempt_at) "
    "VALUES (:topic, :payload, :group_id, :dedup_id, :now, :now)"
).bindparams(bindparam("payload", type_=JSONB))


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
            _ADD,
            {"topic": topic, "payload": payload, "group_id": group_id, "dedup_id": dedup_id, "now": now},
        )

    def add_from_select(self, topic: str, rows_sql: str, params: dict[str, Any], now: datetime) -> int:
        """Append one event per row of `rows_sql` (a SELECT of `payload` jsonb, `group_id`
        and `dedup_id`), in one statement: a bulk job's per-player events. Returns rows."""
        result = self.session.execute(
            text(
                "INSERT INTO crypto.outbox (topic, payload, group_id, dedup_id, created_at, next_attempt_at) "
                f"SELECT :topic, e.payload, e.group_id, e.dedup_id, :now, :now FROM ({rows_sql}) e"
            ),
            {**params, "topic": topic, "now": now},
        )
        return int(getattr(result, "rowcount", 0) or 0)


class OutboxClaimRepository:
    """The relay's SQL: claim due rows without blocking other relays, mark outcomes."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(self, limit: int, now: datetime) -> list[OutboxEvent]:
        """Unpublished, due rows, oldest first, locked FOR UPDATE SKIP LOCKED: a row
        claimed by one relay is invisible to the others until that relay commits, so a
        committed row is never published by two relays at once."""
        stmt = (
            select(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None), OutboxEvent.next_attempt_at <= now)
            .order_by(OutboxEvent.next_attempt_at, OutboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.scalars(stmt))

    def mark_published(self, ids: list[int], now: datetime, note: str | None = None) -> None:
        """Done with these rows; `note` says why when they were not sent (no consumer)."""
        if ids:
            self.session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(ids))
                .values(published_at=now, attempts=OutboxEvent.attempts + 1, last_error=note)
            )

    def mark_failed(self, event_id: int, error: str, retry_at: datetime) -> None:
        self.session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == event_id)
            .values(attempts=OutboxEvent.attempts + 1, last_error=error[:2000], next_attempt_at=retry_at)
        )

    def lag(self, now: datetime) -> tuple[int, float]:
        """Unpublished rows and the age in seconds of the oldest one."""
        row = self.session.execute(
            select(func.count(), func.min(OutboxEvent.created_at)).where(OutboxEvent.published_at.is_(None))
        ).one()
        oldest = (now - row[1]).total_seconds() if row[1] else 0.0
        return int(row[0]), oldest
