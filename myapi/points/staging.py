"""The hand-off from a bulk job (settlement) to the ledger: staged point changes.

A bulk job does not call `PointsLedger.apply` once per player; it stages its changes in
one temporary table owned here, then asks this object to apply them set-based with the
same invariants as the one-entry path (balance rows locked in user order, a ref applied
at most once, `balance_after` the running balance, balances never negative):

1. `stage(select_sql)` — the job's SELECT of (user_id, delta, ref_type, ref_id, reason,
   symbol) becomes the table `pg_temp.points_staged_entries` (dropped at commit);
2. `lock_balances(now)` — create and lock the players' balance rows;
3. `users_short_of_points()` — who could not absorb a negative change (check first);
4. `apply(trading_day, now)` — insert the ledger entries and update the balances;
5. `emit_points_awarded(...)` — one `points.awarded` event per player, via the outbox.

Everything runs in the caller's transaction and never commits.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.events.catalogue import Topic
from myapi.outbox.repository import OutboxRepository

TABLE = "pg_temp.points_staged_entries"
# The order of a player's entries in one run: credits first (a running balance never dips
# below zero on the way), then by ref. balance_after is the running sum in this order,
# and the ids are assigned in it too (the INSERT's ORDER BY), so "the latest entry by id"
# (what the integrity check and every reader use) carries the final balance.
_ENTRY_ORDER = "f.delta DESC, f.ref_id"
COLUMNS = "user_id, delta, ref_type, ref_id, reason, symbol"


class LedgerStaging:
    def __init__(self, session: Session) -> None:
        self.session = session

    def drop(self) -> None:
        """Drop a table left by an earlier run in the same transaction (ON COMMIT DROP
        fires only at the outermost commit)."""
        self.session.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))

    def stage(self, select_sql: str, params: dict[str, Any]) -> int:
        """Stage the rows of `select_sql` (columns: user_id, delta, ref_type, ref_id,
        reason, symbol). Returns how many were staged."""
        self.drop()
        result = self.session.execute(
            text(
                "CREATE TEMP TABLE points_staged_entries ON COMMIT DROP AS "
                f"SELECT {COLUMNS} FROM ({select_sql}) s"
            ),
            params,
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def lock_balances(self, now: datetime) -> None:
        """First step of the set-based ledger: create the missing balance rows of the
        staged players and lock them all, in user order (so
        two bulk writers cannot deadlock) — one statement: ON CONFLICT DO UPDATE locks the
        conflicting row even when its WHERE is false. Balances read after this in the
        transaction cannot change underneath it."""
        self.session.execute(
            text(
                "INSERT INTO crypto.point_balances AS b (user_id, balance, updated_at) "
                f"SELECT DISTINCT user_id, 0, CAST(:now AS timestamptz) FROM {TABLE} ORDER BY user_id "
                "ON CONFLICT (user_id) DO UPDATE SET balance = b.balance WHERE false"
            ),
            {"now": now},
        )

    def users_short_of_points(self) -> list[int]:
        """Users whose balance cannot absorb their staged changes (the balance never goes
        negative, nor below the points in the user's open holds: a redemption holding
        them must still be able to commit). Only players with a negative entry can fall
        short."""
        rows = self.session.execute(
            text(
                f"""
                SELECT l.user_id FROM {TABLE} l
                LEFT JOIN crypto.point_balances b ON b.user_id = l.user_id
                LEFT JOIN (SELECT user_id, sum(amount) AS held FROM crypto.points_holds
                           WHERE status = 'OPEN' GROUP BY user_id) h ON h.user_id = l.user_id
                WHERE l.user_id IN (SELECT user_id FROM {TABLE} WHERE delta < 0)
                GROUP BY l.user_id, b.balance, h.held
                HAVING COALESCE(b.balance, 0) - COALESCE(h.held, 0) + sum(l.delta) < 0
                ORDER BY l.user_id LIMIT 20
                """
            )
        )
        return [int(r[0]) for r in rows]

    def apply(self, trading_day: date | None, now: datetime) -> tuple[int, int]:
        """The set-based ledger: apply every staged row with the same invariants as the
        one-entry path. Call `lock_balances` first in the same transaction (the
        balance rows locked in user order); then refs already applied are skipped,
        balance_after is the running balance per user, balances are updated by the sum.
        Returns (entries, users)."""
        row = self.session.execute(
            text(
                f"""
                WITH fresh AS (
                    SELECT p.* FROM {TABLE} p
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
                               PARTITION BY f.user_id ORDER BY {_ENTRY_ORDER}
                               ROWS UNBOUNDED PRECEDING),
                           :day, f.symbol, :now
                    FROM fresh f JOIN crypto.point_balances b ON b.user_id = f.user_id
                    ORDER BY f.user_id, {_ENTRY_ORDER}
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

    def emit_points_awarded(self, trading_day: date, now: datetime) -> int:
        """One `points.awarded` event per player whose points changed (FIFO per player).
        The dedup id names the run (its instant): a revision's events never collide with
        the first award's."""
        return OutboxRepository(self.session).add_from_select(
            Topic.POINTS_AWARDED,
            f"""
            SELECT jsonb_build_object('user_id', user_id, 'trading_day', :day_s,
                                      'delta', sum(delta), 'entries', count(*)) AS payload,
                   'user-' || user_id AS group_id,
                   'points-' || :day_s || '-' || user_id || '-' || :stamp AS dedup_id
            FROM {TABLE} GROUP BY user_id
            """,
            {"day_s": trading_day.isoformat(), "stamp": str(int(now.timestamp() * 1000))},
            now,
        )
