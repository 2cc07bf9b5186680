"""SQL for the notification inbox. Never commits."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.notifications.models import Notification


class NotificationsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        *,
        user_id: int,
        category: str,
        dedup_key: str,
        title: str,
        body: str,
        data: dict[str, Any],
        now: datetime,
    ) -> bool:
        """Insert one notification unless its (user, dedup key) exists; True if new."""
        stmt = (
            insert(Notification)
            .values(
                user_id=user_id,
                category=category,
                dedup_key=dedup_key,
                title=title,
                body=body,
                data=data,
                created_at=now,
            )  # fmt: skip
            .on_conflict_do_nothing(index_elements=["user_id", "dedup_key"])
            .returning(Notification.id)
        )
        return self.session.execute(stmt).first() is not None

    def upsert_day_results(self, trading_day: date, now: datetime) -> tuple[int, int]:
        """One "your day is settled" notification per player with a prediction on
        `trading_day` (cancelled ones aside): predictions, wins, VOIDs, points — in one
        statement. A later run that changes a player's figures (a price revision)
        updates theirs and marks it unread again; the same figures change nothing.
        Returns (created, updated)."""
        row = self.session.execute(
            text(
                """
                WITH figures AS (
                    SELECT user_id, count(*) AS predictions,
                           count(*) FILTER (WHERE status = 'CORRECT') AS wins,
                           count(*) FILTER (WHERE status = 'VOID') AS voids,
                           COALESCE(sum(points_awarded), 0)::bigint AS points
                    FROM crypto.predictions
                    WHERE trading_day = :day AND status <> 'CANCELLED'
                    GROUP BY user_id
                ), upserted AS (
                    INSERT INTO crypto.notifications
                        (user_id, category, dedup_key, title, body, data, created_at)
                    SELECT f.user_id, 'SETTLEMENT', 'settled:' || :day_s,
                           'Your results for ' || :day_s,
                           f.predictions || ' prediction' || CASE WHEN f.predictions = 1 THEN '' ELSE 's' END
                             || ', ' || f.wins || ' correct, +' || f.points || ' points',
                           jsonb_build_object('trading_day', :day_s, 'predictions', f.predictions,
                                              'wins', f.wins, 'voids', f.voids, 'points', f.points),
                           :now
                    FROM figures f
                    ORDER BY f.user_id
                    ON CONFLICT (user_id, dedup_key) DO UPDATE
                        SET body = EXCLUDED.body, data = EXCLUDED.data,
                            created_at = EXCLUDED.created_at, read_at = NULL
                        WHERE crypto.notifications.data IS DISTINCT FROM EXCLUDED.data
                    RETURNING (xmax = 0) AS created
                )
                SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM upserted
                """
            ),
            {"day": trading_day, "day_s": trading_day.isoformat(), "now": now},
        ).one()
        return int(row[0]), int(row[1])

    def upsert_streak_milestones(
        self, trading_day: date, milestones: tuple[int, ...], now: datetime
    ) -> tuple[int, int]:
        """One "N in a row" notification per player whose current streak crossed a
        milestone with `trading_day`'s results: S_prev is the run of CORRECT ending the
        player's decided (CORRECT / INCORRECT) predictions before the day, S the run
        after it (ordered by day, then id; VOID and PENDING ignored), and the largest
        milestone M with S_prev < M <= S is the one notified. Dedup key
        "streak:<day>"; a later run with other figures updates it (a stale one from a
        revision is left, as a sent push cannot be taken back). Returns (created, updated)."""
        row = self.session.execute(
            text(
                """
                WITH today AS (
                    SELECT user_id,
                           count(*) FILTER (WHERE status = 'CORRECT') AS wins,
                           max(id) FILTER (WHERE status = 'INCORRECT') AS last_miss
                    FROM crypto.predictions
                    WHERE trading_day = :day AND status IN ('CORRECT', 'INCORRECT')
                    GROUP BY user_id
                ), runs AS (
                    SELECT t.user_id, prev.run AS s_prev,
                           CASE WHEN t.last_miss IS NULL THEN prev.run + t.wins
                                ELSE (SELECT count(*) FROM crypto.predictions c
                                      WHERE c.user_id = t.user_id AND c.trading_day = :day
                                        AND c.status = 'CORRECT' AND c.id > t.last_miss)
                           END AS s_now
                    FROM today t
                    CROSS JOIN LATERAL (
                        SELECT count(*) AS run FROM crypto.predictions c
                        WHERE c.user_id = t.user_id AND c.trading_day < :day AND c.status = 'CORRECT'
                          AND (c.trading_day, c.id) > COALESCE(
                              (SELECT (m.trading_day, m.id) FROM crypto.predictions m
                               WHERE m.user_id = t.user_id AND m.trading_day < :day
                                 AND m.status = 'INCORRECT'
                               ORDER BY m.trading_day DESC, m.id DESC LIMIT 1),
                              ('-infinity'::date, 0::bigint))
                    ) prev
                ), reached AS (
                    SELECT user_id, s_now,
                           (SELECT max(m) FROM unnest(CAST(:milestones AS int[])) AS m
                            WHERE m > s_prev AND m <= s_now) AS milestone
                    FROM runs
                ), upserted AS (
                    INSERT INTO crypto.notifications
                        (user_id, category, dedup_key, title, body, data, created_at)
                    SELECT r.user_id, 'STREAK', 'streak:' || :day_s,
                           r.milestone || ' correct in a row!',
                           'Your streak is ' || r.s_now || ' correct predictions after ' || :day_s || '.',
                           jsonb_build_object('trading_day', :day_s, 'milestone', r.milestone,
                                              'streak', r.s_now),
                           :now
                    FROM reached r WHERE r.milestone IS NOT NULL
                    ORDER BY r.user_id
                    ON CONFLICT (user_id, dedup_key) DO UPDATE
                        SET title = EXCLUDED.title, body = EXCLUDED.body, data = EXCLUDED.data,
                            created_at = EXCLUDED.created_at, read_at = NULL
                        WHERE crypto.notifications.data IS DISTINCT FROM EXCLUDED.data
                    RETURNING (xmax = 0) AS created
                )
                SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM upserted
                """
            ),
            {
                "day": trading_day,
                "day_s": trading_day.isoformat(),
                "now": now,
                "milestones": list(milestones),
            },  # fmt: skip
        ).one()
        return int(row[0]), int(row[1])

    def add_for_day_players(
        self,
        trading_day: date,
        *,
        category: str,
        dedup_key: str,
        title: str,
        body: str,
        data: dict[str, Any],
        now: datetime,
    ) -> int:
        """The same notification for every player with a (not cancelled) prediction on
        `trading_day`, once per player (their (user, dedup key) exists: nothing).
        Returns how many were created."""
        rows = self.session.execute(
            text(
                """
                INSERT INTO crypto.notifications (user_id, category, dedup_key, title, body, data, created_at)
                SELECT DISTINCT user_id, :category, :dedup_key, :title, :body, CAST(:data AS jsonb), :now
                FROM crypto.predictions
                WHERE trading_day = :day AND status <> 'CANCELLED'
                ORDER BY user_id
                ON CONFLICT (user_id, dedup_key) DO NOTHING
                RETURNING id
                """
            ),
            {
                "day": trading_day, "category": category, "dedup_key": dedup_key, "title": title,
                "body": body, "data": json.dumps(data), "now": now,
            },
        ).all()  # fmt: skip
        return len(rows)

    def page(
        self, user_id: int, *, after: tuple[datetime, int] | None, limit: int, unread_only: bool
    ) -> list[Notification]:
        """Newest news first (created_at, then id, descending: a revised notification
        comes back on top); `after` is the (created_at, id) of the previous page's last."""
        stmt = select(Notification).where(Notification.user_id == user_id)
        if after is not None:
            stmt = stmt.where(tuple_(Notification.created_at, Notification.id) < tuple_(*after))
        if unread_only:
            stmt = stmt.where(Notification.read_at.is_(None))
        stmt = stmt.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
        return list(self.session.scalars(stmt))

    def unread_count(self, user_id: int) -> int:
        stmt = select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        return int(self.session.scalar(stmt) or 0)

    def mark_read(self, user_id: int, notification_id: int, now: datetime) -> Notification | None:
        """Mark one of the user's notifications read (already read: unchanged)."""
        found = self.session.scalars(
            select(Notification).where(Notification.id == notification_id, Notification.user_id == user_id)
        ).one_or_none()
        if found is not None and found.read_at is None:
            found.read_at = now
            self.session.flush()
        return found

    def mark_all_read(self, user_id: int, now: datetime) -> int:
        result = self.session.execute(
            update(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)
