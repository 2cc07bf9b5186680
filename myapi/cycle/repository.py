"""SQL for game sessions and what the reconcile loop reads. Never commits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.core.enums import Phase
from myapi.cycle.models import SessionControl


class SessionsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def settled_between(self, first: date, last: date) -> list[SessionControl]:
        """Sessions settled with a trading day in [first, last], newest first."""
        stmt = (
            select(SessionControl)
            .where(
                SessionControl.trading_day >= first,
                SessionControl.trading_day <= last,
                SessionControl.settled_at.is_not(None),
            )
            .order_by(SessionControl.trading_day.desc())
        )
        return list(self.session.scalars(stmt))

    def get(self, trading_day: date) -> SessionControl | None:
        return self.session.get(SessionControl, trading_day)

    def lock(self, trading_day: date) -> SessionControl | None:
        stmt = select(SessionControl).where(SessionControl.trading_day == trading_day).with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def insert_if_absent(self, row: dict[str, Any]) -> bool:
        stmt = (
            insert(SessionControl)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["trading_day"])
            .returning(SessionControl.trading_day)
        )
        return self.session.execute(stmt).first() is not None

    def move_cutoff(self, trading_day: date, cutoff_at: datetime, now: datetime) -> None:
        """An operator's early cutoff: predictions close at `cutoff_at` instead."""
        self.session.execute(
            update(SessionControl)
            .where(SessionControl.trading_day == trading_day)
            .values(predict_cutoff_at=cutoff_at, updated_at=now)
        )

    def flip_to_settle(self, trading_day: date, now: datetime) -> bool:
        """PREDICT -> SETTLE; False when it already was SETTLE (idempotent)."""
        stmt = (
            update(SessionControl)
            .where(SessionControl.trading_day == trading_day, SessionControl.phase == Phase.PREDICT)
            .values(phase=Phase.SETTLE, updated_at=now)
            .returning(SessionControl.trading_day)
        )
        return self.session.execute(stmt).first() is not None


class CycleRepository:
    """What the reconcile loop needs to see, in a few small queries."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def open_past_cutoff(self, now: datetime) -> list[date]:
        stmt = select(SessionControl.trading_day).where(
            SessionControl.phase == Phase.PREDICT, SessionControl.predict_cutoff_at <= now
        )
        return list(self.session.scalars(stmt.order_by(SessionControl.trading_day)))

    def closed_unsettled(self, closed_before: datetime) -> list[tuple[date, datetime, bool]]:
        """Days whose market closed before `closed_before` and that are not settled yet,
        oldest first, each with whether every universe symbol has an EOD price."""
        rows = self.session.execute(
            text(
                """
                SELECT s.trading_day, s.market_close_at,
                       NOT EXISTS (
                           SELECT 1 FROM crypto.active_universe u
                           WHERE u.trading_day = s.trading_day AND NOT EXISTS (
                               SELECT 1 FROM crypto.eod_prices e
                               WHERE e.asof = u.trading_day AND e.symbol = u.symbol)
                       ) AS complete
                FROM crypto.session_control s
                WHERE s.settled_at IS NULL AND s.market_close_at <= :before
                ORDER BY s.trading_day
                """
            ),
            {"before": closed_before},
        )
        return [(r.trading_day, r.market_close_at, bool(r.complete)) for r in rows]
