"""The player's in-app inbox (issue 12, part 1): notifications produced idempotently by
consumers of the game's events, read and marked read by their owner only.

Producers (jobs run by the workers of the queues the events are routed to):

* `settlement.completed` -> one "your results for D" per player with a prediction on D
  (predictions, wins, VOIDs, points), set-based; a later run that changes a player's
  figures (a price revision) updates theirs and marks it unread again.
* `settlement.completed`, too -> "N correct in a row" for each player whose current
  streak crossed a milestone (STREAK_MILESTONES) with the day's results, and, when the
  session after the settled day is preceded by a weekday holiday or closes early, a
  notice of it to the day's players ("calendar:<next day>", once each).
* `reward.issued` / `reward.failed` -> "your reward is ready" / "your redemption
  failed, points returned" (never the code: the player reads it from the redemption).

Every notification has a dedup key unique per player, so an event delivered three times
makes one notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from myapi.core.clock import KST, Clock
from myapi.core.config import Settings
from myapi.core.errors import NotFoundError
from myapi.cycle.calendar import MarketCalendar
from myapi.notifications.models import Notification
from myapi.notifications.repository import NotificationsRepository

CURSOR_PATTERN = r"^\d{1,16}:\d{1,18}$"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Current-streak lengths worth a notification (the largest one crossed by a day's results).
STREAK_MILESTONES: tuple[int, ...] = (3, 5, 10, 25, 50, 100)


class NotificationNotFoundError(NotFoundError):
    code = "NOTIF_404"
    message = "Notification not found"


@dataclass(frozen=True)
class InboxPage:
    items: list[Notification]
    next_cursor: str | None
    unread: int


class NotificationService:
    def __init__(self, session: Session, clock: Clock, calendar: MarketCalendar, settings: Settings) -> None:
        self._repo = NotificationsRepository(session)
        self._clock = clock
        self._calendar = calendar
        self._settings = settings

    # --- the player's inbox ------------------------------------------------------------
    def inbox(self, user_id: int, *, cursor: str | None, limit: int, unread_only: bool) -> InboxPage:
        """Newest news first, `limit` a page; `next_cursor` continues after the last one
        (an opaque "<created_at µs>:<id>"; CURSOR_PATTERN)."""
        after = _decode(cursor) if cursor is not None else None
        items = self._repo.page(user_id, after=after, limit=limit + 1, unread_only=unread_only)
        more = len(items) > limit
        items = items[:limit]
        next_cursor = _encode(items[-1]) if more and items else None
        return InboxPage(items, next_cursor, self._repo.unread_count(user_id))

    def unread_count(self, user_id: int) -> int:
        return self._repo.unread_count(user_id)

    def mark_read(self, user_id: int, notification_id: int) -> Notification:
        """Mark one of mine read (idempotent); another player's is NOTIF_404."""
        found = self._repo.mark_read(user_id, notification_id, self._clock.now())
        if found is None:
            raise NotificationNotFoundError(details={"notification_id": notification_id})
        return found

    def mark_all_read(self, user_id: int) -> int:
        return self._repo.mark_all_read(user_id, self._clock.now())

    # --- producers (the consumers of events) ---------------------------------------------
    def day_settled(self, trading_day: date) -> dict[str, object]:
        created, updated = self._repo.upsert_day_results(trading_day, self._clock.now())
        return {"trading_day": trading_day.isoformat(), "created": created, "updated": updated}

    def streak_milestones(self, trading_day: date) -> dict[str, object]:
        created, updated = self._repo.upsert_streak_milestones(
            trading_day, STREAK_MILESTONES, self._clock.now()
        )
        return {"created": created, "updated": updated}

    def next_session_notice(self, trading_day: date) -> dict[str, object]:
        """When the session after `trading_day` follows a weekday holiday, or closes
        early, tell `trading_day`'s players (once each: "calendar:<next day>")."""
        following = self._calendar.next_trading_day(trading_day)
        holidays = [
            day
            for day in (trading_day + timedelta(days=n) for n in range(1, (following - trading_day).days))
            if day.weekday() < 5
        ]
        times = self._calendar.session_times(following, self._settings.predict_cutoff_margin_min)
        if not holidays and not times.is_early_close:
            return {"next_trading_day": following.isoformat(), "created": 0}
        close_kst = times.market_close.astimezone(KST)
        cutoff_kst = times.predict_cutoff.astimezone(KST)
        parts = []
        if holidays:
            parts.append("US markets are closed on " + ", ".join(_day_name(d) for d in holidays) + ".")
        parts.append(f"The next session is {_day_name(following)}")
        if times.is_early_close:
            parts[-1] += f", closing early at {close_kst:%H:%M} KST"
        parts[-1] += f"; predictions close at {cutoff_kst:%a %H:%M} KST."
        title = "Market holiday ahead" if holidays else "Early close ahead"
        created = self._repo.add_for_day_players(
            trading_day, category="CALENDAR", dedup_key=f"calendar:{following.isoformat()}",
            title=title, body=" ".join(parts),
            data={
                "next_trading_day": following.isoformat(),
                "holidays": [d.isoformat() for d in holidays],
                "early_close": times.is_early_close,
                "close_at": close_kst.isoformat(),
                "cutoff_at": cutoff_kst.isoformat(),
            },
            now=self._clock.now(),
        )  # fmt: skip
        return {"next_trading_day": following.isoformat(), "created": created}

    def reward_outcome(
        self,
        *,
        user_id: int,
        redemption_id: int,
        status: str,
        title: str,
        cost_points: int,
        reason: str | None,
    ) -> dict[str, object]:
        issued = status == "ISSUED"
        text_title = f"Your {title} is ready" if issued else f"Your {title} could not be issued"
        body = (
            "Open your redemptions to see the code."
            if issued
            else f"{cost_points} points are back in your balance" + (f" ({reason})." if reason else ".")
        )
        created = self._repo.add(
            user_id=user_id, category="REWARD", dedup_key=f"reward:{redemption_id}:{status}",
            title=text_title[:200], body=body,
            data={"redemption_id": redemption_id, "status": status, "cost_points": cost_points},
            now=self._clock.now(),
        )  # fmt: skip
        return {"redemption_id": redemption_id, "status": status, "created": created}


def _day_name(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def _encode(n: Notification) -> str:
    micros = (n.created_at - EPOCH) // timedelta(microseconds=1)
    return f"{micros}:{n.id}"


def _decode(cursor: str) -> tuple[datetime, int]:
    micros, _, ident = cursor.partition(":")
    return EPOCH + timedelta(microseconds=int(micros)), int(ident)
