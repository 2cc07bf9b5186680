"""The invariants of SPEC §5, checked in SQL. Each check returns pass/fail and up to
`limit` offending rows, so an operator sees what is wrong and where."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

CHECKS: dict[str, tuple[str, str]] = {
    "balance_equals_ledger_sum": (
        "For every player, balance = sum of ledger deltas",
        """
        SELECT COALESCE(b.user_id, l.user_id) AS user_id, b.balance, COALESCE(l.total, 0) AS ledger_sum
        FROM crypto.point_balances b
        FULL JOIN (SELECT user_id, sum(delta_points)::bigint AS total FROM crypto.points_ledger
                   GROUP BY user_id) l ON l.user_id = b.user_id
        WHERE COALESCE(b.balance, 0) <> COALESCE(l.total, 0)
        ORDER BY 1 LIMIT :limit
        """,
    ),
    "balance_equals_latest_balance_after": (
        "For every player, balance = balance_after of the latest ledger entry",
        """
        SELECT b.user_id, b.balance, last.balance_after
        FROM crypto.point_balances b
        JOIN LATERAL (SELECT balance_after FROM crypto.points_ledger l
                      WHERE l.user_id = b.user_id ORDER BY l.id DESC LIMIT 1) last ON true
        WHERE last.balance_after <> b.balance
        ORDER BY 1 LIMIT :limit
        """,
    ),
    "open_holds_within_balance": (
        "For every player, open holds <= balance",
        """
        SELECT h.user_id, sum(h.amount)::bigint AS held, COALESCE(b.balance, 0) AS balance
        FROM crypto.points_holds h LEFT JOIN crypto.point_balances b ON b.user_id = h.user_id
        WHERE h.status = 'OPEN' GROUP BY h.user_id, b.balance
        HAVING sum(h.amount) > COALESCE(b.balance, 0)
        ORDER BY 1 LIMIT :limit
        """,
    ),
    "no_pending_prediction_on_settled_day": (
        "No prediction of a settled trading day is still PENDING (unless its symbol-day is held "
        "for an operator's review)",
        """
        SELECT p.id, p.trading_day, p.user_id, p.symbol
        FROM crypto.predictions p JOIN crypto.session_control s ON s.trading_day = p.trading_day
        WHERE s.settled_at IS NOT NULL AND p.status = 'PENDING'
          AND NOT EXISTS (
              SELECT 1 FROM crypto.symbol_day_reviews r
              WHERE r.trading_day = p.trading_day AND r.symbol = p.symbol AND r.status = 'HELD'
          )
        ORDER BY 1 LIMIT :limit
        """,
    ),
    "points_awarded_match_ledger": (
        "Points on predictions = settlement ledger entries of that prediction",
        """
        -- MATERIALIZED: with ORDER BY/LIMIT directly on the join the planner picks a nested
        -- loop hoping to stop early, which is quadratic when nothing is wrong.
        WITH mismatch AS MATERIALIZED (
            SELECT p.id, p.points_awarded, COALESCE(l.total, 0) AS ledger_total
            FROM crypto.predictions p
            LEFT JOIN (SELECT user_id, trading_day, symbol, sum(delta_points)::bigint AS total
                       FROM crypto.points_ledger
                       WHERE ref_type IN ('SETTLEMENT', 'SETTLEMENT_REVERSAL')
                       GROUP BY user_id, trading_day, symbol) l
              ON l.user_id = p.user_id AND l.trading_day = p.trading_day AND l.symbol = p.symbol
            WHERE p.points_awarded <> COALESCE(l.total, 0)
        )
        SELECT * FROM mismatch ORDER BY 1 LIMIT :limit
        """,
    ),
    "inventory_within_stock": (
        "For every reward, reserved >= 0, issued >= 0 and reserved + issued <= stock",
        """
        SELECT sku, stock, reserved, issued FROM crypto.rewards_inventory
        WHERE reserved < 0 OR issued < 0 OR reserved + issued > stock ORDER BY 1 LIMIT :limit
        """,
    ),
    "inventory_counts_match_redemptions": (
        "For every reward, reserved = its RESERVED redemptions and issued = its ISSUED ones",
        """
        WITH counted AS (
            SELECT sku, count(*) FILTER (WHERE status = 'RESERVED') AS reserved_n,
                   count(*) FILTER (WHERE status = 'ISSUED') AS issued_n
            FROM crypto.rewards_redemptions GROUP BY sku
        )
        SELECT i.sku, i.reserved, COALESCE(c.reserved_n, 0) AS reserved_redemptions,
               i.issued, COALESCE(c.issued_n, 0) AS issued_redemptions
        FROM crypto.rewards_inventory i LEFT JOIN counted c ON c.sku = i.sku
        WHERE i.reserved <> COALESCE(c.reserved_n, 0) OR i.issued <> COALESCE(c.issued_n, 0)
        ORDER BY 1 LIMIT :limit
        """,
    ),
    "issued_redemptions_debited_once": (
        "Every ISSUED redemption has exactly one REDEEM debit of its cost and a COMMITTED hold; "
        "every REDEEM debit belongs to an ISSUED redemption",
        """
        WITH debits AS (
            SELECT ref_id, count(*) AS n, sum(delta_points)::bigint AS total
            FROM crypto.points_ledger WHERE ref_type = 'REDEEM' GROUP BY ref_id
        )
        SELECT r.id AS redemption_id, r.status::text AS status, r.cost_points,
               COALESCE(d.n, 0) AS debits, d.total AS debited, h.status::text AS hold_status
        FROM crypto.rewards_redemptions r
        LEFT JOIN debits d ON d.ref_id = r.id::text
        LEFT JOIN crypto.points_holds h ON h.ref_type = 'REDEEM' AND h.ref_id = r.id::text
        WHERE (r.status = 'ISSUED' AND (COALESCE(d.n, 0) <> 1 OR d.total <> -r.cost_points
                                        OR h.status IS DISTINCT FROM 'COMMITTED'))
           OR (r.status <> 'ISSUED' AND d.n IS NOT NULL AND r.status NOT IN ('FAILED', 'CANCELLED'))
        UNION ALL
        SELECT NULL, 'no redemption', NULL, d.n, d.total, NULL FROM debits d
        WHERE NOT EXISTS (SELECT 1 FROM crypto.rewards_redemptions r WHERE r.id::text = d.ref_id)
        ORDER BY 1 LIMIT :limit
        """,
    ),
    "redemption_holds_match": (
        "Every redemption in flight has the hold its state needs (RESERVED: OPEN; REQUESTED: none "
        "or OPEN), every REDEEM hold is of its redemption's cost, and belongs to a redemption",
        """
        SELECT r.id AS redemption_id, r.status::text AS status, h.status::text AS hold_status,
               h.amount, r.cost_points
        FROM crypto.rewards_redemptions r
        LEFT JOIN crypto.points_holds h ON h.ref_type = 'REDEEM' AND h.ref_id = r.id::text
        WHERE (r.status = 'RESERVED' AND h.status IS DISTINCT FROM 'OPEN')
           OR (r.status = 'REQUESTED' AND h.status IS NOT NULL AND h.status <> 'OPEN')
           OR (h.id IS NOT NULL AND h.amount <> r.cost_points)
        UNION ALL
        SELECT NULL, 'no redemption', h.status::text, h.amount, NULL FROM crypto.points_holds h
        WHERE h.ref_type = 'REDEEM'
          AND NOT EXISTS (SELECT 1 FROM crypto.rewards_redemptions r WHERE r.id::text = h.ref_id)
        ORDER BY 1 LIMIT :limit
        """,
    ),
    "no_expired_open_hold": (
        "No OPEN hold is past its expiry (a saga stuck beyond REWARD_SAGA_TIMEOUT_S)",
        """
        SELECT id, user_id, amount, ref_type, ref_id, expires_at FROM crypto.points_holds
        WHERE status = 'OPEN' AND expires_at < CAST(:now AS timestamptz) ORDER BY expires_at LIMIT :limit
        """,
    ),
    "final_redemptions_hold_nothing": (
        "No FAILED or CANCELLED redemption keeps an OPEN hold or a debit (a redemption is "
        "debited only when it is ISSUED, which is final)",
        """
        WITH moved AS (
            SELECT ref_id, sum(delta_points)::bigint AS net FROM crypto.points_ledger
            WHERE ref_type = 'REDEEM' GROUP BY ref_id
        )
        SELECT r.id AS redemption_id, r.status::text AS status, h.status::text AS hold_status,
               COALESCE(m.net, 0) AS net_points
        FROM crypto.rewards_redemptions r
        LEFT JOIN crypto.points_holds h ON h.ref_type = 'REDEEM' AND h.ref_id = r.id::text
        LEFT JOIN moved m ON m.ref_id = r.id::text
        WHERE r.status IN ('FAILED', 'CANCELLED') AND (h.status = 'OPEN' OR COALESCE(m.net, 0) <> 0)
        ORDER BY 1 LIMIT :limit
        """,
    ),
}


@dataclass(frozen=True)
class CheckResult:
    name: str
    description: str
    passed: bool
    offending: list[dict[str, Any]]


class IntegrityRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def run(self, limit: int = 20, now: datetime | None = None) -> list[CheckResult]:
        """Every check; `now` is the instant holds expire against (default: the database's)."""
        results: list[CheckResult] = []
        at = now or self.session.execute(text("SELECT now()")).scalar_one()
        for name, (description, sql) in CHECKS.items():
            params = {"limit": limit, "now": at}
            rows = [dict(r._mapping) for r in self.session.execute(text(sql), params)]
            results.append(CheckResult(name, description, not rows, rows))
        return results
