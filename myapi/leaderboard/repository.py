"""SQL for the leaderboard summary. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

ALL_TIME_START = date(1970, 1, 1)
ALL_TIME_END = date(9999, 12, 31)


@dataclass(frozen=True)
class Ranked:
    rank: int
    user_id: int
    nickname: str
    points: int
    wins: int
    predictions: int


# Active players only, in rank order: points, wins (descending), then the user id.
_BETTER = """
    (l.points > :points OR (l.points = :points AND l.wins > :wins)
     OR (l.points = :points AND l.wins = :wins AND l.user_id < :user_id))
"""


class LeaderboardRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def refresh_day(
        self, trading_day: date, periods: Sequence[tuple[str, date, date]], now: datetime
    ) -> tuple[int, int]:
        """Rewrite the day's per-player results from its predictions, then every
        period containing it for the players of that day (a few set-based statements;
        idempotent). `periods`: (name, start, end exclusive). Returns (players, rows).

        Refreshes run one at a time (a transaction-scoped advisory lock): two days'
        follow-ups at once would each sum the periods they share (`all`, a week across
        both days) without the other's uncommitted day, and the later commit would
        write a stale total."""
        self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('crypto.leaderboard'))"))
        players = self.session.execute(
            text(
                """
                WITH fresh AS (
                    SELECT user_id, COALESCE(sum(points_awarded), 0)::bigint AS points,
                           count(*) FILTER (WHERE status = 'CORRECT') AS wins, count(*) AS predictions
                    FROM crypto.predictions
                    WHERE trading_day = :day AND status IN ('CORRECT', 'INCORRECT', 'VOID')
                    GROUP BY user_id
                ), written AS (
                    INSERT INTO crypto.player_days (user_id, trading_day, points, wins, predictions)
                    SELECT user_id, :day, points, wins, predictions FROM fresh ORDER BY user_id
                    ON CONFLICT (user_id, trading_day) DO UPDATE
                        SET points = EXCLUDED.points, wins = EXCLUDED.wins, predictions = EXCLUDED.predictions
                    RETURNING 1
                )
                SELECT count(*) FROM written
                """
            ),
            {"day": trading_day},
        ).scalar_one()
        rows = 0
        for name, start, end in periods:
            result = self.session.execute(
                text(
                    """
                    INSERT INTO crypto.leaderboard
                        (period, period_start, user_id, points, wins, predictions, updated_at)
                    SELECT :period, :start, d.user_id, sum(d.points), sum(d.wins), sum(d.predictions), :now
                    FROM crypto.player_days d
                    WHERE d.user_id IN (SELECT user_id FROM crypto.player_days WHERE trading_day = :day)
                      AND d.trading_day >= :start AND d.trading_day < :end
                    GROUP BY d.user_id
                    ORDER BY d.user_id
                    ON CONFLICT (period, period_start, user_id) DO UPDATE
                        SET points = EXCLUDED.points, wins = EXCLUDED.wins,
                            predictions = EXCLUDED.predictions, updated_at = EXCLUDED.updated_at
                        WHERE (crypto.leaderboard.points, crypto.leaderboard.wins,
                               crypto.leaderboard.predictions)
                              IS DISTINCT FROM (EXCLUDED.points, EXCLUDED.wins, EXCLUDED.predictions)
                    """
                ),
                {"period": name, "start": start, "end": end, "day": trading_day, "now": now},
            )
            rows += int(getattr(result, "rowcount", 0) or 0)
        return int(players), rows

    def top(self, period: str, start: date, limit: int, offset: int) -> list[Ranked]:
        result = self.session.execute(
            text(
                """
                SELECT l.user_id, u.nickname, l.points, l.wins, l.predictions
                FROM crypto.leaderboard l JOIN crypto.users u ON u.id = l.user_id
                WHERE l.period = :period AND l.period_start = :start AND u.is_active
                ORDER BY l.points DESC, l.wins DESC, l.user_id
                LIMIT :limit OFFSET :offset
                """
            ),
            {"period": period, "start": start, "limit": limit, "offset": offset},
        )
        return [
            Ranked(
                offset + i + 1,
                int(r.user_id),
                str(r.nickname),
                int(r.points),
                int(r.wins),
                int(r.predictions),
            )
            for i, r in enumerate(result)
        ]

    def ranked_players(self, period: str, start: date) -> int:
        return int(
            self.session.execute(
                text(
                    "SELECT count(*) FROM crypto.leaderboard l JOIN crypto.users u ON u.id = l.user_id "
                    "WHERE l.period = :period AND l.period_start = :start AND u.is_active"
                ),
                {"period": period, "start": start},
            ).scalar_one()
        )

    def mine(self, period: str, start: date, user_id: int) -> Ranked | None:
        """My entry and rank (1 + the active players ahead of me), None if not ranked."""
        row = self.session.execute(
            text(
                "SELECT l.points, l.wins, l.predictions, u.nickname FROM crypto.leaderboard l "
                "JOIN crypto.users u ON u.id = l.user_id "
                "WHERE l.period = :period AND l.period_start = :start AND l.user_id = :user_id "
                "AND u.is_active"
            ),
            {"period": period, "start": start, "user_id": user_id},
        ).one_or_none()
        if row is None:
            return None
        ahead = self.session.execute(
            text(
                "SELECT count(*) FROM crypto.leaderboard l JOIN crypto.users u ON u.id = l.user_id "
                f"WHERE l.period = :period AND l.period_start = :start AND u.is_active AND {_BETTER}"
            ),
            {"period": period, "start": start, "points": row.points, "wins": row.wins, "user_id": user_id},
        ).scalar_one()
        return Ranked(
            int(ahead) + 1, user_id, str(row.nickname), int(row.points), int(row.wins), int(row.predictions)
        )
