"""SQL for the leaderboard summary. Never commits.

Invariants, per period (period, period_start):

* a `leaderboard` row's totals are the sums of the player's `player_days` of the period;
* `leaderboard.active` is the player's `users.is_active` (new rows take it from users;
  a change of users.is_active flips the player's rows through the trigger of migration
  0012);
* `leaderboard_scores.players` is the number of active rows with that (points, wins), and
  `leaderboard_score_blocks.players` the same per block of user ids (user_id / BLOCK_SIZE).

So the players ahead of (points p, wins w, user u) — the rank order is points, wins
(descending), then the user id — are the players of the better scores, plus those of
score (p, w) in lower blocks, plus those of (p, w) in u's block with a lower id: two
sums over small tables and a count over at most BLOCK_SIZE index entries, whatever the
number of players. Pages at any offset are found the same way.

Everything that writes the summary (refresh, rebuild, the trigger) takes one
transaction-scoped advisory lock first, so the counts have one writer at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

ALL_TIME_START = date(1970, 1, 1)
ALL_TIME_END = date(9999, 12, 31)
BLOCK_SIZE = 4096  # user ids per block; migration 0012 (trigger) uses the same
LOCK = "SELECT pg_advisory_xact_lock(hashtext('crypto.leaderboard'))"


@dataclass(frozen=True)
class Ranked:
    rank: int
    user_id: int
    nickname: str
    points: int
    wins: int
    predictions: int


@dataclass(frozen=True)
class Staged:
    players: int  # the day's players (with a decided prediction)
    changed: int  # players whose results of the day changed (the deltas staged)
    shrunk: int  # of them, players with fewer decided predictions than before


def _block(user_id: int) -> int:
    return user_id // BLOCK_SIZE


class LeaderboardRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _exec(self, sql: str, **params: Any) -> Any:
        return self.session.execute(text(sql), params)

    # --- writing -----------------------------------------------------------------------
    def lock(self) -> None:
        """One writer of the summary at a time (refreshes, rebuilds, activity changes):
        two days' follow-ups at once would each apply their deltas to rows and counts
        the other is changing."""
        self._exec(LOCK)

    def set_local(self, setting: str, value: str) -> str:
        """Set a run-time setting (work_mem, statement_timeout) for the rest of the
        transaction; returns the value it had, to put back."""
        old = self._exec("SELECT current_setting(:setting)", setting=setting).scalar_one()
        self._exec("SELECT set_config(:setting, :value, true)", setting=setting, value=value)
        return str(old)

    def stage_day(self, trading_day: date) -> Staged:
        """Rewrite the day's `player_days` from its decided predictions — only the rows
        whose figures differ — and stage each changed player's delta (new minus old) in
        pg_temp.leaderboard_delta, with users.is_active (for the rows it creates; read
        once, under the lock the users trigger takes too). Nothing changed (a
        redelivery): nothing staged."""
        self._exec("DROP TABLE IF EXISTS pg_temp.leaderboard_delta")
        self._exec(
            "CREATE TEMP TABLE leaderboard_delta (user_id bigint PRIMARY KEY, points bigint NOT NULL, "
            "wins integer NOT NULL, predictions integer NOT NULL, active boolean NOT NULL) ON COMMIT DROP"
        )
        self._exec(
            """
            WITH fresh AS (
                SELECT user_id, COALESCE(sum(points_awarded), 0)::bigint AS points,
                       (count(*) FILTER (WHERE status = 'CORRECT'))::int AS wins,
                       count(*)::int AS predictions
                FROM crypto.predictions
                WHERE trading_day = :day AND status IN ('CORRECT', 'INCORRECT', 'VOID')
                GROUP BY user_id
            ), diff AS (
                SELECT COALESCE(f.user_id, o.user_id) AS user_id,
                       f.points AS new_points, f.wins AS new_wins, f.predictions AS new_predictions,
                       COALESCE(f.points, 0) - COALESCE(o.points, 0) AS points,
                       COALESCE(f.wins, 0) - COALESCE(o.wins, 0) AS wins,
                       COALESCE(f.predictions, 0) - COALESCE(o.predictions, 0) AS predictions
                FROM fresh f
                FULL JOIN (SELECT * FROM crypto.player_days WHERE trading_day = :day) o
                    ON o.user_id = f.user_id
                WHERE (f.points, f.wins, f.predictions) IS DISTINCT FROM (o.points, o.wins, o.predictions)
            ), written AS (
                INSERT INTO crypto.player_days (user_id, trading_day, points, wins, predictions)
                SELECT user_id, :day, new_points, new_wins, new_predictions
                FROM diff WHERE new_predictions IS NOT NULL ORDER BY user_id
                ON CONFLICT (user_id, trading_day) DO UPDATE
                    SET points = EXCLUDED.points, wins = EXCLUDED.wins, predictions = EXCLUDED.predictions
            ), removed AS (
                DELETE FROM crypto.player_days d USING diff
                WHERE d.trading_day = :day AND d.user_id = diff.user_id AND diff.new_predictions IS NULL
            )
            INSERT INTO pg_temp.leaderboard_delta (user_id, points, wins, predictions, active)
            SELECT diff.user_id, diff.points, diff.wins, diff.predictions, u.is_active
            FROM diff JOIN crypto.users u ON u.id = diff.user_id
            """,
            day=trading_day,
        )
        changed, shrunk = self._exec(
            "SELECT count(*), count(*) FILTER (WHERE predictions < 0) FROM pg_temp.leaderboard_delta"
        ).one()
        players = self._exec(
            "SELECT count(*) FROM crypto.player_days WHERE trading_day = :day", day=trading_day
        ).scalar_one()
        if changed:
            self._exec("ANALYZE pg_temp.leaderboard_delta")  # a temp table has no statistics
        return Staged(int(players), int(changed), int(shrunk))

    def apply_staged(self, period: str, start: date, now: datetime, *, shrunk: bool) -> int:
        """Add the staged deltas to the period's rows (new rows take the staged is_active) and
        move the active ones between score counts: -1 at the old (score, block), +1 at
        the new one, summed per key; a count goes down by UPDATE (the CHECK players >= 0
        applies to the row an INSERT proposes, before ON CONFLICT), up by upsert.
        Returns the rows written."""
        rows = self._exec(
            f"""
            WITH up AS (
                INSERT INTO crypto.leaderboard AS l
                    (period, period_start, user_id, points, wins, predictions, updated_at, active)
                SELECT :period, :start, d.user_id, d.points, d.wins, d.predictions, :now, d.active
                FROM pg_temp.leaderboard_delta d
                ORDER BY d.user_id
                ON CONFLICT (period, period_start, user_id) DO UPDATE
                    SET points = l.points + EXCLUDED.points, wins = l.wins + EXCLUDED.wins,
                        predictions = l.predictions + EXCLUDED.predictions, updated_at = EXCLUDED.updated_at
                RETURNING l.user_id, l.points, l.wins, l.predictions, l.active
            ), moves AS (
                SELECT up.points, up.wins, (up.user_id / {BLOCK_SIZE})::int AS block, 1 AS n
                FROM up WHERE up.active AND up.predictions > 0
                UNION ALL
                SELECT up.points - d.points, up.wins - d.wins, (up.user_id / {BLOCK_SIZE})::int, -1
                FROM up JOIN pg_temp.leaderboard_delta d ON d.user_id = up.user_id
                WHERE up.active AND up.predictions - d.predictions > 0
            ), blocks AS (
                SELECT points, wins, block, sum(n) AS n FROM moves
                GROUP BY points, wins, block HAVING sum(n) <> 0
            ), scores AS (
                SELECT points, wins, sum(n) AS n FROM blocks GROUP BY points, wins HAVING sum(n) <> 0
            ), scores_down AS (
                UPDATE crypto.leaderboard_scores s SET players = s.players + c.n FROM scores c
                WHERE s.period = :period AND s.period_start = :start
                  AND s.points = c.points AND s.wins = c.wins AND c.n < 0
            ), scores_up AS (
                INSERT INTO crypto.leaderboard_scores AS s (period, period_start, points, wins, players)
                SELECT :period, :start, points, wins, n FROM scores WHERE n > 0 ORDER BY points, wins
                ON CONFLICT (period, period_start, points, wins)
                    DO UPDATE SET players = s.players + EXCLUDED.players
            ), blocks_down AS (
                UPDATE crypto.leaderboard_score_blocks b SET players = b.players + c.n FROM blocks c
                WHERE b.period = :period AND b.period_start = :start
                  AND b.points = c.points AND b.wins = c.wins AND b.block = c.block AND c.n < 0
            ), blocks_up AS (
                INSERT INTO crypto.leaderboard_score_blocks AS b
                    (period, period_start, points, wins, block, players)
                SELECT :period, :start, points, wins, block, n FROM blocks WHERE n > 0
                ORDER BY points, wins, block
                ON CONFLICT (period, period_start, points, wins, block)
                    DO UPDATE SET players = b.players + EXCLUDED.players
            )
            SELECT count(*) FROM up
            """,
            period=period,
            start=start,
            now=now,
        ).scalar_one()
        if shrunk:  # a player left with no decided prediction in the period has no row
            self._exec(
                "DELETE FROM crypto.leaderboard l USING pg_temp.leaderboard_delta d "
                "WHERE l.period = :period AND l.period_start = :start AND l.user_id = d.user_id "
                "AND d.predictions < 0 AND l.predictions = 0",
                period=period,
                start=start,
            )
        self.drop_empty_counts(period, start)
        return int(rows)

    def drop_empty_counts(self, period: str, start: date) -> None:
        for table in ("leaderboard_scores", "leaderboard_score_blocks"):
            self._exec(
                f"DELETE FROM crypto.{table} "
                "WHERE period = :period AND period_start = :start AND players = 0",
                period=period,
                start=start,
            )

    def rebuild_period(self, period: str, start: date, end: date, now: datetime) -> int:
        """Recompute one period from `player_days` (every player, their users.is_active)
        and recount its scores. O(the period's rows); for repairs and bulk loads — the
        refresh never needs it. Returns the rows written."""
        self._exec("SET LOCAL statement_timeout = 0")
        params = {"period": period, "start": start}
        for table in ("leaderboard", "leaderboard_scores", "leaderboard_score_blocks"):
            self._exec(
                f"DELETE FROM crypto.{table} WHERE period = :period AND period_start = :start",
                **params,
            )
        rows = self._exec(
            """
            INSERT INTO crypto.leaderboard
                (period, period_start, user_id, points, wins, predictions, updated_at, active)
            SELECT :period, :start, d.user_id, sum(d.points), sum(d.wins), sum(d.predictions), :now,
                   u.is_active
            FROM crypto.player_days d JOIN crypto.users u ON u.id = d.user_id
            WHERE d.trading_day >= :start AND d.trading_day < :end
            GROUP BY d.user_id, u.is_active
            ORDER BY d.user_id
            """,
            end=end,
            now=now,
            **params,
        ).rowcount
        self._exec(
            "INSERT INTO crypto.leaderboard_scores (period, period_start, points, wins, players) "
            "SELECT period, period_start, points, wins, count(*) FROM crypto.leaderboard "
            "WHERE period = :period AND period_start = :start AND active "
            "GROUP BY period, period_start, points, wins",
            **params,
        )
        self._exec(
            "INSERT INTO crypto.leaderboard_score_blocks "
            "(period, period_start, points, wins, block, players) "
            f"SELECT period, period_start, points, wins, (user_id / {BLOCK_SIZE})::int, count(*) "
            "FROM crypto.leaderboard WHERE period = :period AND period_start = :start AND active "
            f"GROUP BY period, period_start, points, wins, (user_id / {BLOCK_SIZE})::int",
            **params,
        )
        return int(rows or 0)

    # --- reading -----------------------------------------------------------------------
    def ranked_players(self, period: str, start: date) -> int:
        return int(
            self._exec(
                "SELECT COALESCE(sum(players), 0) FROM crypto.leaderboard_scores "
                "WHERE period = :period AND period_start = :start",
                period=period,
                start=start,
            ).scalar_one()
        )

    def mine(self, period: str, start: date, user_id: int) -> Ranked | None:
        """My entry and rank (1 + the active players ahead of me), None if not ranked."""
        block = _block(user_id)
        row = self._exec(
            f"""
            SELECT l.points, l.wins, l.predictions, u.nickname,
                   (SELECT COALESCE(sum(s.players), 0) FROM crypto.leaderboard_scores s
                    WHERE s.period = :period AND s.period_start = :start
                      AND (s.points, s.wins) > (l.points, l.wins))
                 + (SELECT COALESCE(sum(b.players), 0) FROM crypto.leaderboard_score_blocks b
                    WHERE b.period = :period AND b.period_start = :start
                      AND b.points = l.points AND b.wins = l.wins AND b.block < :block)
                 + (SELECT count(*) FROM crypto.leaderboard o
                    WHERE o.period = :period AND o.period_start = :start AND o.active
                      AND o.points = l.points AND o.wins = l.wins
                      AND o.user_id >= :block * {BLOCK_SIZE} AND o.user_id < l.user_id) AS ahead
            FROM crypto.leaderboard l JOIN crypto.users u ON u.id = l.user_id
            WHERE l.period = :period AND l.period_start = :start AND l.user_id = :user_id AND l.active
            """,
            period=period,
            start=start,
            user_id=user_id,
            block=block,
        ).one_or_none()
        if row is None:
            return None
        return Ranked(
            int(row.ahead) + 1,
            user_id,
            str(row.nickname),
            int(row.points),
            int(row.wins),
            int(row.predictions),
        )

    def top(self, period: str, start: date, limit: int, offset: int) -> list[Ranked]:
        """The players at positions offset+1 .. offset+limit. The first page reads the
        rank index from its start; a later one first finds the score and the block of
        id holding position offset+1 from the counts, then reads from there (at most one
        block is skipped row by row), so every page costs about the same."""
        params: dict[str, Any] = {"period": period, "start": start, "limit": limit}
        if offset == 0:
            result = self._exec(
                """
                SELECT l.user_id, u.nickname, l.points, l.wins, l.predictions
                FROM crypto.leaderboard l JOIN crypto.users u ON u.id = l.user_id
                WHERE l.period = :period AND l.period_start = :start AND l.active
                ORDER BY l.points DESC, l.wins DESC, l.user_id
                LIMIT :limit
                """,
                **params,
            )
            rows = list(result)
        else:
            rows = self._page_from(offset, params)
        return [
            Ranked(
                offset + i + 1,
                int(r.user_id),
                str(r.nickname),
                int(r.points),
                int(r.wins),
                int(r.predictions),
            )
            for i, r in enumerate(rows)
        ]

    def _page_from(self, offset: int, params: dict[str, Any]) -> list[Any]:
        score = self._exec(
            """
            SELECT points, wins, upto - players AS before FROM (
                SELECT points, wins, players,
                       sum(players) OVER (ORDER BY points DESC, wins DESC ROWS UNBOUNDED PRECEDING) AS upto
                FROM crypto.leaderboard_scores WHERE period = :period AND period_start = :start
            ) s
            WHERE upto > :offset ORDER BY points DESC, wins DESC LIMIT 1
            """,
            offset=offset,
            **params,
        ).one_or_none()
        if score is None:  # past the last player
            return []
        points, wins, rest = int(score.points), int(score.wins), offset - int(score.before)
        block = self._exec(
            """
            SELECT block, upto - players AS before FROM (
                SELECT block, players, sum(players) OVER (ORDER BY block ROWS UNBOUNDED PRECEDING) AS upto
                FROM crypto.leaderboard_score_blocks
                WHERE period = :period AND period_start = :start AND points = :points AND wins = :wins
            ) b
            WHERE upto > :rest ORDER BY block LIMIT 1
            """,
            points=points,
            wins=wins,
            rest=rest,
            **params,
        ).one()
        # The rest of score (points, wins) from that block on, then the next scores
        # (lower wins at these points, then lower points). Each part reads only the rank
        # index (it includes `predictions`; the rows skipped cost no heap or users
        # lookup); the page is cut before its nicknames are fetched.
        part = (
            "SELECT l.user_id, l.points, l.wins, l.predictions FROM crypto.leaderboard l "
            "WHERE l.period = :period AND l.period_start = :start AND l.active AND "
        )
        return list(
            self._exec(
                f"""
                WITH page AS (
                    SELECT * FROM (
                        ({part} l.points = :points AND l.wins = :wins AND l.user_id >= :from_id
                         ORDER BY l.user_id OFFSET :skip LIMIT :limit)
                        UNION ALL
                        ({part} l.points = :points AND l.wins < :wins
                         ORDER BY l.wins DESC, l.user_id LIMIT :limit)
                        UNION ALL
                        ({part} l.points < :points
                         ORDER BY l.points DESC, l.wins DESC, l.user_id LIMIT :limit)
                    ) parts
                    ORDER BY points DESC, wins DESC, user_id LIMIT :limit
                )
                SELECT p.user_id, u.nickname, p.points, p.wins, p.predictions
                FROM page p JOIN crypto.users u ON u.id = p.user_id
                ORDER BY p.points DESC, p.wins DESC, p.user_id
                """,
                points=points,
                wins=wins,
                from_id=int(block.block) * BLOCK_SIZE,
                skip=rest - int(block.before),
                **params,
            )
        )
