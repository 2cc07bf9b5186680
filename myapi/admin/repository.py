"""The invariants of SPEC §5, checked in SQL. Each check returns pass/fail and up to
`limit` offending rows, so an operator sees what is wrong and where."""

from __future__ import annotations

from dataclasses import dataclass
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
        "No prediction of a settled trading day is still PENDING",
        """
        SELECT p.id, p.trading_day, p.user_id, p.symbol
        FROM crypto.predictions p JOIN crypto.session_control s ON s.trading_day = p.trading_day
        WHERE s.settled_at IS NOT NULL AND p.status = 'PENDING'
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
    "inventory_reserved_within_stock": (
        "For every reward, 0 <= reserved <= stock",
        """
        SELECT sku, stock, reserved FROM crypto.rewards_inventory
        WHERE reserved < 0 OR reserved > stock ORDER BY 1 LIMIT :limit
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

    def run(self, limit: int = 20) -> list[CheckResult]:
        results: list[CheckResult] = []
        for name, (description, sql) in CHECKS.items():
            rows = [dict(r._mapping) for r in self.session.execute(text(sql), {"limit": limit})]
            results.append(CheckResult(name, description, not rows, rows))
        return results
