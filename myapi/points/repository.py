"""SQL for balances and the append-only ledger. Never commits."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.core.enums import HoldStatus
from myapi.points.models import PointBalance, PointsHold, PointsLedgerEntry


class PointsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_balance(self, user_id: int) -> int:
        """Create the balance row if missing, then lock it (FOR UPDATE) and return the
        balance. Every point change for a user is serialised on this row."""
        self.session.execute(
            insert(PointBalance)
            .values(user_id=user_id, balance=0)
            .on_conflict_do_nothing(index_elements=["user_id"])
        )
        stmt = select(PointBalance.balance).where(PointBalance.user_id == user_id).with_for_update()
        return int(self.session.execute(stmt).scalar_one())

    def find_by_ref(self, ref_type: str, ref_id: str) -> PointsLedgerEntry | None:
        stmt = select(PointsLedgerEntry).where(
            PointsLedgerEntry.ref_type == ref_type, PointsLedgerEntry.ref_id == ref_id
        )
        return self.session.scalars(stmt).one_or_none()

    def append_entry(
        self,
        *,
        user_id: int,
        delta: int,
        balance_after: int,
        reason: str,
        ref_type: str,
        ref_id: str,
        trading_day: date | None,
        symbol: str | None,
        now: datetime,
    ) -> PointsLedgerEntry:
        entry = PointsLedgerEntry(
            user_id=user_id,
            delta_points=delta,
            balance_after=balance_after,
            reason=reason,
            ref_type=ref_type,
            ref_id=ref_id,
            trading_day=trading_day,
            symbol=symbol,
            created_at=now,
        )
        self.session.add(entry)
        self.session.flush()
        return entry

    def set_balance(self, user_id: int, balance: int, now: datetime) -> None:
        self.session.execute(
            update(PointBalance)
            .where(PointBalance.user_id == user_id)
            .values(balance=balance, updated_at=now)
        )

    def balance_of(self, user_id: int) -> int:
        stmt = select(PointBalance.balance).where(PointBalance.user_id == user_id)
        return int(self.session.scalar(stmt) or 0)

    def ledger_sum(self, user_id: int) -> int:
        stmt = select(func.coalesce(func.sum(PointsLedgerEntry.delta_points), 0)).where(
            PointsLedgerEntry.user_id == user_id
        )
        return int(self.session.scalar(stmt) or 0)

    def ledger_page(self, user_id: int, limit: int, offset: int) -> tuple[list[PointsLedgerEntry], int]:
        where = PointsLedgerEntry.user_id == user_id
        total = int(self.session.scalar(select(func.count()).where(where)) or 0)
        rows = self.session.scalars(
            select(PointsLedgerEntry)
            .where(where)
            .order_by(PointsLedgerEntry.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(rows), total

    # --- holds (two-phase transfers) ---------------------------------------------------
    def held(self, user_id: int, *, except_ref: tuple[str, str] | None = None) -> int:
        """Points in the user's OPEN holds (optionally leaving one hold out)."""
        stmt = select(func.coalesce(func.sum(PointsHold.amount), 0)).where(
            PointsHold.user_id == user_id, PointsHold.status == HoldStatus.OPEN
        )
        if except_ref is not None:
            stmt = stmt.where(
                ~((PointsHold.ref_type == except_ref[0]) & (PointsHold.ref_id == except_ref[1]))
            )
        return int(self.session.scalar(stmt) or 0)

    def lock_hold(self, ref_type: str, ref_id: str) -> PointsHold | None:
        stmt = (
            select(PointsHold)
            .where(PointsHold.ref_type == ref_type, PointsHold.ref_id == ref_id)
            .with_for_update()
        )
        return self.session.scalars(stmt).one_or_none()

    def add_hold(
        self, *, user_id: int, amount: int, ref_type: str, ref_id: str, expires_at: datetime, now: datetime
    ) -> PointsHold:
        hold = PointsHold(
            user_id=user_id, amount=amount, ref_type=ref_type, ref_id=ref_id,
            expires_at=expires_at, created_at=now, updated_at=now,
        )  # fmt: skip
        self.session.add(hold)
        self.session.flush()
        return hold
