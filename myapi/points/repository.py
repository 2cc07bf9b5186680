"""SQL for balances and the append-only ledger. Never commits."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.points.models import PointBalance, PointsLedgerEntry


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

    def lock_staged_balances(self, now: datetime) -> None:
        """First step of the set-based ledger: create the missing balance rows of the
        players in the temp table `pending_ledger` and lock them all, in user order (so
        two bulk writers cannot deadlock) — one statement: ON CONFLICT DO UPDATE locks the
        conflicting row even when its WHERE is false. Balances read after this in the
        transaction cannot change underneath it."""
        self.session.execute(
            text(
                "INSERT INTO crypto.point_balances AS b (user_id, balance, updated_at) "
                "SELECT DISTINCT user_id, 0, CAST(:now AS timestamptz) FROM pending_ledger ORDER BY user_id "
                "ON CONFLICT (user_id) DO UPDATE SET balance = b.balance WHERE false"
            ),
            {"now": now},
        )

    def apply_staged_entries(self, trading_day: date | None, now: datetime) -> tuple[int, int]:
        """The set-based ledger: apply every row of the temp table `pending_ledger`
        (user_id, delta, ref_type, ref_id, reason, symbol) with the same invariants as the
        one-entry path. Call `lock_staged_balances` first in the same transaction (the
        balance rows locked in user order); then refs already applied are skipped,
        balance_after is the running balance per user, balances are updated by the sum.
        Returns (entries, users)."""
        row = self.session.execute(
            text(
                """
                WITH fresh AS (
                    SELECT p.* FROM pending_ledger p
                    WHERE NOT EXISTS (
                        SELECT 1 FROM crypto.points_ledger l
                        WHERE l.ref_type = p.ref_type AND l.ref_id = p.ref_id
                    )
                ), inserted AS (
                    INSERT INTO crypto.points_ledger
                        (user_id, delta_points, reason, ref_type, ref_id, balance_after,
                         trading_day, symbol, created_at)
                    SELECT f.user_id, f.delta, f.reason, f.ref_type, f.ref_id,
                           b.balance + sum(f.delta) OVER (
                               PARTITION BY f.user_id ORDER BY f.delta DESC, f.ref_id
                               ROWS UNBOUNDED PRECEDING),
                           :day, f.symbol, :now
                    FROM fresh f JOIN crypto.point_balances b ON b.user_id = f.user_id
                    RETURNING user_id, delta_points
                ), totals AS (
                    SELECT user_id, sum(delta_points) AS total FROM inserted GROUP BY user_id
                ), updated AS (
                    UPDATE crypto.point_balances b SET balance = b.balance + t.total, updated_at = :now
                    FROM totals t WHERE b.user_id = t.user_id
                    RETURNING b.user_id
                )
                SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM updated)
                """
            ),
            {"day": trading_day, "now": now},
        ).one()
        return int(row[0]), int(row[1])

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
