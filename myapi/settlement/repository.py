"""Set-based settlement SQL: a handful of statements per trading day, no loop over
predictions. Every statement runs in the caller's transaction (under the lock on the
day's session_control row) and never commits.

The working sets live in temporary tables dropped at commit:
  eff   — the effective price of each universe symbol (latest vendor_rev of that day),
          with what the corporate-action check compares it with
  aff   — the symbols whose settlement must be (re)computed (never a HELD symbol-day;
          a VOIDED one with the operator's reason as its forced VOID)
  chg   — the predictions whose points change (a first win, or a revision's flip),
          with old and new values: what the ledger entries are made from
  wo    — the points an operator's decision writes off (players short of the points a
          VOID takes back), only when asked to

The ledger entries themselves are handed to points (myapi.points.staging.LedgerStaging),
which applies them with the ledger's invariants.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from myapi.settlement.models import Settlement, SymbolDayReview

# A prediction's outcome: the day's close (a.close, NULL when no valid price) against
# the prediction's own baseline; equal, no baseline or no close -> VOID with a reason.
# An operator's VOID of the symbol-day (a.forced_void: HALT, BAD_DATA, CORPORATE_ACTION)
# comes first, whatever the close.
_NEW_STATUS = """(CASE WHEN a.forced_void IS NOT NULL OR a.close IS NULL OR p.baseline_price IS NULL
            OR a.close = p.baseline_price
       THEN 'VOID'
       WHEN (a.close > p.baseline_price) = (p.choice = 'UP') THEN 'CORRECT'
       ELSE 'INCORRECT' END)::crypto.prediction_status"""
_VOID_REASON = """CASE WHEN a.forced_void IS NOT NULL THEN a.forced_void
       WHEN a.close IS NULL THEN 'EOD_MISSING'
       WHEN p.baseline_price IS NULL THEN 'NO_BASELINE'
       WHEN a.close = p.baseline_price THEN 'FLAT' END"""
# `:symbols` NULL: every symbol of the day; else only those (an operator's decision).
_ONLY = "(CAST(:symbols AS text[]) IS NULL OR e.symbol = ANY(CAST(:symbols AS text[])))"


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
        self._exec("DROP TABLE IF EXISTS pg_temp.eff, pg_temp.aff, pg_temp.chg, pg_temp.wo")

    def load_effective_prices(self, day: date) -> None:
        """eff: one row per universe symbol; close NULL when no valid price exists; the
        previous close from the vendor row, else the latest stored close before the day.
        For the corporate-action check: the provider's reported action, the stored
        previous close (fetched before any split, so never split-adjusted) and the
        symbol's baseline."""
        self._exec(
            """
            CREATE TEMP TABLE eff ON COMMIT DROP AS
            SELECT u.symbol, p.close_price AS close,
                   COALESCE(p.prev_close_price, prev.close_price) AS prev_close,
                   COALESCE(p.vendor_rev, -1) AS rev,
                   p.corporate_action AS action, prev.close_price AS stored_prev_close,
                   u.baseline_price AS baseline
            FROM crypto.active_universe u
            LEFT JOIN LATERAL (
                SELECT close_price, prev_close_price, vendor_rev, corporate_action
                FROM crypto.eod_prices e
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

    def hold_flagged(
        self,
        day: date,
        now: datetime,
        *,
        max_move: Decimal,
        dividend_min: Decimal,
        symbols: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The corporate-action check: of the symbols about to be (re)settled from a
        price (never settled, a newer revision, or a late price after an EOD_MISSING VOID)
        and without a review yet, hold — a HELD `symbol_day_reviews` row — those whose
        provider reported a SPLIT, or a DIVIDEND of at least `dividend_min` of the
        previous close, or whose close is further than `max_move` (|close/ref - 1|; 0: this
        rule is off) from any reference price (the vendor's previous close, the stored previous close, the
        symbol's baseline). Returns the symbol-days held now (each once: a held or
        decided symbol-day is never judged again). Reads only eff and the reviews."""
        rows = self._exec(
            f"""
            WITH cand AS (
                SELECT e.* FROM eff e
                LEFT JOIN crypto.settlements s ON s.trading_day = :day AND s.symbol = e.symbol
                WHERE e.close IS NOT NULL AND {_ONLY}
                  AND NOT EXISTS (SELECT 1 FROM crypto.symbol_day_reviews r
                                  WHERE r.trading_day = :day AND r.symbol = e.symbol)
                  AND (s.symbol IS NULL OR s.vendor_rev < e.rev
                       OR (s.outcome = 'VOID' AND s.void_reason = 'EOD_MISSING'))
            ), worst AS (
                SELECT DISTINCT ON (c.symbol) c.symbol, r.ref, c.close / r.ref - 1 AS move
                FROM cand c
                CROSS JOIN LATERAL (VALUES (c.prev_close), (c.stored_prev_close), (c.baseline)) r(ref)
                WHERE r.ref IS NOT NULL
                ORDER BY c.symbol, abs(c.close / r.ref - 1) DESC
            ), judged AS (
                SELECT c.symbol, c.close, c.rev, c.action, w.ref, w.move,
                       CASE WHEN c.action->>'kind' = 'SPLIT' THEN 'SPLIT'
                            WHEN c.action->>'kind' = 'DIVIDEND'
                                 AND CAST(c.action->>'value' AS numeric) >= CAST(:dividend_min AS numeric)
                                     * COALESCE(c.prev_close, c.stored_prev_close)
                                 THEN 'DIVIDEND'
                            WHEN CAST(:max_move AS numeric) > 0
                                 AND abs(w.move) > CAST(:max_move AS numeric) THEN 'MOVE' END AS trigger
                FROM cand c LEFT JOIN worst w ON w.symbol = c.symbol
            )
            INSERT INTO crypto.symbol_day_reviews AS r
                (trading_day, symbol, status, trigger, close_price, reference_price, move, vendor_rev,
                 provider_action, held_at, updated_at)
            SELECT :day, symbol, 'HELD', trigger, close, ref, round(move, 6), GREATEST(rev, 0), action,
                   :now, :now
            FROM judged WHERE trigger IS NOT NULL
            ORDER BY symbol
            ON CONFLICT (trading_day, symbol) DO NOTHING
            RETURNING r.symbol, r.trigger, r.close_price, r.reference_price, r.move, r.vendor_rev,
                      r.provider_action
            """,
            day=day,
            now=now,
            max_move=max_move,
            dividend_min=dividend_min,
            symbols=list(symbols) if symbols is not None else None,
        )
        return sorted((dict(r._mapping) for r in rows), key=lambda r: str(r["symbol"]))

    def select_affected(self, day: date, symbols: Sequence[str] | None = None) -> int:
        """aff: symbols never settled, settled from an older vendor revision, settled
        VOID for a missing price that has arrived since, or VOIDED by an operator and
        not settled with that reason yet — never a HELD symbol-day; only `symbols` when
        given. Invariant: a symbol settled from revision R (with its operator's VOID, if
        any) is not in aff while R is still the latest — re-running is a no-op."""
        return int(
            self._exec(
                f"""
                CREATE TEMP TABLE aff ON COMMIT DROP AS
                SELECT e.symbol, e.close, e.prev_close, e.rev, (s.symbol IS NULL) AS first_time,
                       CASE WHEN r.status = 'VOIDED' THEN r.void_reason END AS forced_void
                FROM eff e
                LEFT JOIN crypto.settlements s ON s.trading_day = :day AND s.symbol = e.symbol
                LEFT JOIN crypto.symbol_day_reviews r ON r.trading_day = :day AND r.symbol = e.symbol
                WHERE r.status IS DISTINCT FROM 'HELD' AND {_ONLY}
                  AND (s.symbol IS NULL
                       OR s.vendor_rev < e.rev
                       OR (r.status = 'VOIDED' AND s.void_reason IS DISTINCT FROM r.void_reason)
                       OR (r.status IS DISTINCT FROM 'VOIDED' AND s.outcome = 'VOID'
                           AND s.void_reason = 'EOD_MISSING' AND e.close IS NOT NULL))
                """,
                day=day,
                symbols=list(symbols) if symbols is not None else None,
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
                   CASE WHEN a.forced_void IS NOT NULL OR a.close IS NULL OR a.prev_close IS NULL
                             OR a.close = a.prev_close
                        THEN 'VOID' WHEN a.close > a.prev_close THEN 'UP' ELSE 'DOWN' END::crypto.outcome,
                   a.close, a.prev_close, GREATEST(a.rev, 0),
                   CASE WHEN a.forced_void IS NOT NULL THEN a.forced_void
                        WHEN a.close IS NULL THEN 'EOD_MISSING'
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
                new_status crypto.prediction_status, void_reason text, new_points bigint,
                forced boolean
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
                       o.void_reason, CASE WHEN o.new_status = 'CORRECT' THEN :win ELSE 0 END, o.forced
                FROM (
                    SELECT p.id, p.user_id, p.symbol, p.status AS old_status,
                           p.points_awarded AS old_points, a.rev,
                           {_NEW_STATUS} AS new_status, {_VOID_REASON} AS void_reason,
                           (a.forced_void IS NOT NULL) AS forced
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
                    RETURNING p.id, p.user_id, p.symbol, a.rev, p.status, p.void_reason, p.points_awarded,
                              (a.forced_void IS NOT NULL) AS forced
                ), awarded AS (
                    INSERT INTO chg
                    SELECT id, user_id, symbol, 'PENDING', 0, rev, status, void_reason, points_awarded, forced
                    FROM settled WHERE points_awarded <> 0
                )
                SELECT count(*) FROM settled
                """,
                day=day,
                now=now,
                win=win_points,
            ).scalar_one()
        )

    def ledger_changes(self, day: date, write_off: str | None = None) -> tuple[str, dict[str, Any]]:
        """The point changes chg implies, as a SELECT for LedgerStaging.stage. A first
        award uses the ref SETTLEMENT:{day}:{symbol}:{user}; corrections from a later
        vendor revision use their own refs (…:r{rev}), a reversal SETTLEMENT_REVERSAL:…:r{rev};
        the reversal of an operator's VOID SETTLEMENT_REVERSAL:…:void (a VOID is final,
        so it happens once per prediction). With `write_off` (the decision's name), the
        rows of wo too: WRITE_OFF:{day}:{symbol}:{user}:{write_off}, credited first."""
        sql = """
            SELECT user_id, new_points - old_points AS delta,
                   CASE WHEN new_points > old_points THEN 'SETTLEMENT' ELSE 'SETTLEMENT_REVERSAL' END
                       AS ref_type,
                   :day_s || ':' || symbol || ':' || user_id
                       || CASE WHEN old_status = 'PENDING' THEN ''
                               WHEN forced THEN '\\:void'
                               ELSE '\\:r' || rev END AS ref_id,
                   CASE WHEN new_points > old_points THEN 'prediction_win'
                        WHEN forced THEN 'settlement_void'
                        ELSE 'settlement_correction' END AS reason,
                   symbol
            FROM chg WHERE new_points <> old_points
        """
        params: dict[str, Any] = {"day_s": day.isoformat()}
        if write_off is not None:
            sql += """
            UNION ALL
            SELECT user_id, amount, 'WRITE_OFF', :day_s || ':' || symbol || ':' || user_id || '\\:' || :wo,
                   'settlement_write_off', symbol
            FROM wo
            """
            params["wo"] = write_off
        return sql, params

    def stage_write_offs(self) -> tuple[int, int]:
        """wo: per player of chg (one symbol's changes) whose balance, less their open
        holds, cannot absorb the change, the points missing — what an operator's decision
        with `write_off_shortfall` credits before taking the points back, so the balance
        ends at their open holds (never below) and every ledger invariant holds. Run
        after the balance rows are locked. Returns (players, points)."""
        self._exec(
            """
            CREATE TEMP TABLE wo ON COMMIT DROP AS
            SELECT c.user_id, c.symbol,
                   -(COALESCE(b.balance, 0) - COALESCE(h.held, 0) + c.total)::bigint AS amount
            FROM (SELECT user_id, min(symbol) AS symbol, sum(new_points - old_points) AS total
                  FROM chg GROUP BY user_id) c
            LEFT JOIN crypto.point_balances b ON b.user_id = c.user_id
            LEFT JOIN LATERAL (SELECT sum(amount) AS held FROM crypto.points_holds
                               WHERE user_id = c.user_id AND status = 'OPEN') h ON true
            WHERE COALESCE(b.balance, 0) - COALESCE(h.held, 0) + c.total < 0
            """
        )
        row = self._exec("SELECT count(*), COALESCE(sum(amount), 0) FROM wo").one()
        return int(row[0]), int(row[1])

    def symbol_counts(self, day: date, symbol: str) -> dict[str, int]:
        """The symbol-day's predictions by status, and their points."""
        rows = self._exec(
            """
            SELECT status::text AS status, count(*) AS n, COALESCE(sum(points_awarded), 0) AS points
            FROM crypto.predictions WHERE trading_day = :day AND symbol = :symbol GROUP BY status
            """,
            day=day,
            symbol=symbol,
        )
        counts: dict[str, int] = {"points": 0}
        for r in rows:
            counts[str(r.status)] = int(r.n)
            counts["points"] += int(r.points)
        return counts

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


class SymbolDayReviewRepository:
    """The symbol-days out of the automatic settlement (held or voided). Writers take the
    day's session_control lock first (as settlement does), so reviews and settlement
    of a day never interleave."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self, day: date, symbol: str) -> SymbolDayReview | None:
        stmt = (
            select(SymbolDayReview)
            .where(SymbolDayReview.trading_day == day, SymbolDayReview.symbol == symbol)
            .with_for_update()
        )
        return self.session.scalars(stmt).one_or_none()

    def add(self, review: SymbolDayReview) -> SymbolDayReview:
        self.session.add(review)
        self.session.flush()
        return review

    def held_symbols(self, day: date) -> list[str]:
        stmt = (
            select(SymbolDayReview.symbol)
            .where(SymbolDayReview.trading_day == day, SymbolDayReview.status == "HELD")
            .order_by(SymbolDayReview.symbol)
        )
        return list(self.session.scalars(stmt))

    def page(
        self, status: str | None, day: date | None, limit: int, offset: int
    ) -> tuple[list[tuple[SymbolDayReview, dict[str, int]]], int]:
        """Reviews, newest trading day first, with each symbol-day's predictions by
        status (one grouped read for the page's symbol-days only)."""
        where = []
        if status is not None:
            where.append(SymbolDayReview.status == status)
        if day is not None:
            where.append(SymbolDayReview.trading_day == day)
        total = int(self.session.scalar(select(func.count()).select_from(SymbolDayReview).where(*where)) or 0)
        rows = list(
            self.session.scalars(
                select(SymbolDayReview)
                .where(*where)
                .order_by(SymbolDayReview.trading_day.desc(), SymbolDayReview.symbol)
                .limit(limit)
                .offset(offset)
            )
        )
        counts: dict[tuple[date, str], dict[str, int]] = {(r.trading_day, r.symbol): {} for r in rows}
        if rows:
            grouped = self.session.execute(
                text(
                    """
                    SELECT p.trading_day, p.symbol, p.status::text AS status, count(*) AS n
                    FROM crypto.predictions p
                    JOIN unnest(CAST(:days AS date[]), CAST(:symbols AS text[])) k(day, symbol)
                      ON p.trading_day = k.day AND p.symbol = k.symbol
                    GROUP BY 1, 2, 3
                    """
                ),
                {"days": [r.trading_day for r in rows], "symbols": [r.symbol for r in rows]},
            )
            for g in grouped:
                counts[(g.trading_day, g.symbol)][str(g.status)] = int(g.n)
        return [(r, counts[(r.trading_day, r.symbol)]) for r in rows], total
