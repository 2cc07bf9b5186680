"""Set-based settlement SQL: a handful of statements per trading day, no loop over
predictions. Every statement runs in the caller's transaction (under the lock on the
day's session_control row) and never commits.

The working sets live in temporary tables dropped at commit:
  eff   — the effective price of each universe symbol (latest vendor_rev of that day)
  aff   — the symbols whose settlement must be (re)computed
  chg   — the predictions whose points change (a first win, or a revision's flip),
          with old and new values: what the ledger entries are made from

The ledger entries themselves are handed to points (myapi.points.staging.LedgerStaging),
which applies them with the ledger's invariants.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from myapi.settlement.models import Settlement

# A prediction's outcome: the day's close (a.close, NULL when no valid price) against
# the prediction's own baseline; equal, no baseline or no close -> VOID with a reason.
_NEW_STATUS = """(CASE WHEN a.close IS NULL OR p.baseline_price IS NULL OR a.close = p.baseline_price
       THEN 'VOID'
       WHEN (a.close > p.baseline_price) = (p.choice = 'UP') THEN 'CORRECT'
       ELSE 'INCORRECT' END)::crypto.prediction_status"""
_VOID_REASON = """CASE WHEN a.close IS NULL THEN 'EOD_MISSING'
       WHEN p.baseline_price IS NULL THEN 'NO_BASELINE'
       WHEN a.close = p.baseline_price THEN 'FLAT' END"""


class SettlementRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _exec(self, sql: str, **params: Any) -> Any:
        return self.session.execute(text(sql), params)

    def configure_transaction(self, timeout_ms: int, work_mem_mb: int) -> None:
        """A day's settlement rewrites every prediction of the day in one statement; it
        gets its own (longer) statement timeout and more work_mem, for this transaction only."""
        self._exec(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
        self._exec(f"SET LOCAL work_mem = '{int(work_mem_mb)}MB'")

    def reset(self) -> None:
        """Drop working tables left by an earlier settlement in the same transaction
        (ON COMMIT DROP only fires at the outermost commit)."""
        self._exec("DROP TABLE IF EXISTS pg_temp.eff, pg_temp.aff, pg_temp.chg")

    def load_effective_prices(self, day: date) -> None:
        """eff: one row per universe symbol; close NULL when no valid price exists; the
        previous close from the vendor row, else the latest stored close before the day."""
        self._exec(
            """
            CREATE TEMP TABLE eff ON COMMIT DROP AS
            SELECT u.symbol, p.close_price AS close,
                   COALESCE(p.prev_close_price, prev.close_price) AS prev_close,
                   COALESCE(p.vendor_rev, -1) AS rev
            FROM crypto.active_universe u
            LEFT JOIN LATERAL (
                SELECT close_price, prev_close_price, vendor_rev FROM crypto.eod_prices e
                WHERE e.asof = u.trading_day AND e.symbol = u.symbol
                ORDER BY e.vendor_rev DESC LIMIT 1
            ) p ON true
            LEFT JOIN LATERAL (
                SELECT close_price FROM crypto.eod_prices e
                WHERE e.asof < u.trading_day AND e.symbol = u.symbol
                ORDER BY e.asof DESC, e.vendor_rev DESC LIMIT 1
            ) prev ON true
            WHERE u.trading_day = :day
            """,
            day=day,
        )

    def select_affected(self, day: date) -> int:
        """aff: symbols never settled, settled from an older vendor revision, or settled
        VOID for a missing price that has arrived since. Invariant: a symbol settled
        from revision R is not in aff while R is still the latest — re-running is a no-op."""
        return int(
            self._exec(
                """
                CREATE TEMP TABLE aff ON COMMIT DROP AS
                SELECT e.symbol, e.close, e.prev_close, e.rev, (s.symbol IS NULL) AS first_time
                FROM eff e
                LEFT JOIN crypto.settlements s ON s.trading_day = :day AND s.symbol = e.symbol
                WHERE s.symbol IS NULL
                   OR s.vendor_rev < e.rev
                   OR (s.outcome = 'VOID' AND s.void_reason = 'EOD_MISSING' AND e.close IS NOT NULL)
                """,
                day=day,
            ).rowcount
        )

    def analyze_affected(self) -> None:
        # A temp table has no statistics; with them the day's predictions are read in
        # physical order (hash join on a 10-row aff) instead of by index, page by page.
        self._exec("ANALYZE pg_temp.aff")

    def upsert_settlements(self, day: date, now: datetime) -> None:
        self._exec(
            """
            INSERT INTO crypto.settlements AS s
                (trading_day, symbol, outcome, close_price, prev_close_price, vendor_rev,
                 void_reason, computed_at)
            SELECT :day, a.symbol,
                   CASE WHEN a.close IS NULL OR a.prev_close IS NULL OR a.close = a.prev_close
                        THEN 'VOID' WHEN a.close > a.prev_close THEN 'UP' ELSE 'DOWN' END::crypto.outcome,
                   a.close, a.prev_close, GREATEST(a.rev, 0),
                   CASE WHEN a.close IS NULL THEN 'EOD_MISSING'
                        WHEN a.prev_close IS NULL THEN 'PREV_CLOSE_MISSING'
                        WHEN a.close = a.prev_close THEN 'FLAT' END,
                   :now
            FROM aff a
            ON CONFLICT (trading_day, symbol) DO UPDATE SET
                outcome = EXCLUDED.outcome, close_price = EXCLUDED.close_price,
                prev_close_price = EXCLUDED.prev_close_price, vendor_rev = EXCLUDED.vendor_rev,
                void_reason = EXCLUDED.void_reason, computed_at = EXCLUDED.computed_at
            """,
            day=day,
            now=now,
        )

    def create_change_table(self) -> None:
        self._exec(
            """
            CREATE TEMP TABLE chg (
                id bigint, user_id bigint, symbol text,
                old_status crypto.prediction_status, old_points bigint, rev integer,
                new_status crypto.prediction_status, void_reason text, new_points bigint
            ) ON COMMIT DROP
            """
        )

    def resettle_changed(self, day: date, now: datetime, win_points: int) -> int:
        """Revisions: settled predictions of affected symbols whose outcome or points
        the new price changes. Recorded in chg (old and new values), then applied.
        Runs before `settle_pending`, so the two never touch the same prediction."""
        changed = int(
            self._exec(
                f"""
                INSERT INTO chg
                SELECT o.id, o.user_id, o.symbol, o.old_status, o.old_points, o.rev, o.new_status,
                       o.void_reason, CASE WHEN o.new_status = 'CORRECT' THEN :win ELSE 0 END
                FROM (
                    SELECT p.id, p.user_id, p.symbol, p.status AS old_status,
                           p.points_awarded AS old_points, a.rev,
                           {_NEW_STATUS} AS new_status, {_VOID_REASON} AS void_reason
                    FROM crypto.predictions p
                    JOIN aff a ON a.symbol = p.symbol
                    WHERE p.trading_day = :day AND p.status NOT IN ('PENDING', 'CANCELLED')
                ) o
                WHERE o.old_status <> o.new_status
                   OR o.old_points <> CASE WHEN o.new_status = 'CORRECT' THEN :win ELSE 0 END
                """,
                day=day,
                win=win_points,
            ).rowcount
        )
        if changed:
            self._exec(
                """
                UPDATE crypto.predictions p SET
                    status = c.new_status, points_awarded = c.new_points,
                    void_reason = c.void_reason, settled_at = :now, updated_at = :now
                FROM chg c WHERE p.id = c.id
                """,
                now=now,
            )
        return changed

    def settle_pending(self, day: date, now: datetime, win_points: int) -> int:
        """Every PENDING prediction of an affected symbol, settled in one UPDATE (no
        working copy of the day's predictions: their old values are known, PENDING and
        0 points). Only the ones that win points are recorded in chg for the ledger."""
        return int(
            self._exec(
                f"""
                WITH settled AS (
                    UPDATE crypto.predictions p SET
                        status = {_NEW_STATUS},
                        points_awarded = CASE WHEN {_NEW_STATUS} = 'CORRECT' THEN :win ELSE 0 END,
                        void_reason = {_VOID_REASON},
                        settled_at = :now, updated_at = :now
                    FROM aff a
                    WHERE p.trading_day = :day AND p.symbol = a.symbol AND p.status = 'PENDING'
                    RETURNING p.id, p.user_id, p.symbol, a.rev, p.status, p.void_reason, p.points_awarded
                ), awarded AS (
                    INSERT INTO chg
                    SELECT id, user_id, symbol, 'PENDING', 0, rev, status, void_reason, points_awarded
                    FROM settled WHERE points_awarded <> 0
                )
                SELECT count(*) FROM settled
                """,
                day=day,
                now=now,
                win=win_points,
            ).scalar_one()
        )

    def ledger_changes(self, day: date) -> tuple[str, dict[str, Any]]:
        """The point changes chg implies, as a SELECT for LedgerStaging.stage. A first
        award uses the ref SETTLEMENT:{day}:{symbol}:{user}; corrections from a later
        vendor revision use their own refs (…:r{rev}), a reversal SETTLEMENT_REVERSAL:…:r{rev}."""
        sql = """
            SELECT user_id, new_points - old_points AS delta,
                   CASE WHEN new_points > old_points THEN 'SETTLEMENT' ELSE 'SETTLEMENT_REVERSAL' END
                       AS ref_type,
                   :day_s || ':' || symbol || ':' || user_id
                       || CASE WHEN old_status = 'PENDING' THEN '' ELSE '\\:r' || rev END AS ref_id,
                   CASE WHEN new_points > old_points THEN 'prediction_win'
                        ELSE 'settlement_correction' END AS reason,
                   symbol
            FROM chg WHERE new_points <> old_points
        """
        return sql, {"day_s": day.isoformat()}

    def counts(self, day: date) -> dict[str, Any]:
        row = self._exec(
            """
            SELECT count(*) FILTER (WHERE status = 'CORRECT') AS correct,
                   count(*) FILTER (WHERE status = 'INCORRECT') AS incorrect,
                   count(*) FILTER (WHERE status = 'VOID') AS void,
                   count(*) FILTER (WHERE status = 'PENDING') AS pending,
                   count(*) FILTER (WHERE status = 'CANCELLED') AS cancelled,
                   COALESCE(sum(points_awarded), 0) AS points
            FROM crypto.predictions WHERE trading_day = :day
            """,
            day=day,
        ).one()
        return dict(row._mapping)


class SettlementReadRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def for_day(self, day: date) -> list[Settlement]:
        stmt = select(Settlement).where(Settlement.trading_day == day).order_by(Settlement.symbol)
        return list(self.session.scalars(stmt))

    def between(self, first: date, last: date) -> dict[date, list[Settlement]]:
        stmt = (
            select(Settlement)
            .where(Settlement.trading_day >= first, Settlement.trading_day <= last)
            .order_by(Settlement.trading_day, Settlement.symbol)
        )
        by_day: dict[date, list[Settlement]] = {}
        for row in self.session.scalars(stmt):
            by_day.setdefault(row.trading_day, []).append(row)
        return by_day

    def summary(self, day: date) -> dict[str, Any]:
        counts = SettlementRepository(self.session).counts(day)
        reasons = self.session.execute(
            text(
                "SELECT void_reason, count(*) FROM crypto.predictions WHERE trading_day = :d "
                "AND status = 'VOID' GROUP BY void_reason"
            ),
            {"d": day},
        )
        outcomes = self.session.execute(
            text("SELECT outcome, count(*) FROM crypto.settlements WHERE trading_day = :d GROUP BY outcome"),
            {"d": day},
        )
        issued = self.session.execute(
            text(
                "SELECT COALESCE(sum(delta_points), 0) FROM crypto.points_ledger WHERE trading_day = :d "
                "AND ref_type IN ('SETTLEMENT', 'SETTLEMENT_REVERSAL')"
            ),
            {"d": day},
        ).scalar_one()
        return {
            "counts": {k: int(v) for k, v in counts.items() if k != "points"},
            "points_issued": int(issued),
            "void_reasons": {str(r[0]): int(r[1]) for r in reasons},
            "symbols_by_outcome": {str(r[0]): int(r[1]) for r in outcomes},
        }
