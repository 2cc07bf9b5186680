"""SQL for per-day slot accounting and ad unlocks. Never commits."""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import TextClause, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.slots.models import AdUnlock
from myapi.slots.policy import SlotState


class DailySlotsRow(NamedTuple):
    """A player's slot counters for one day, as stored."""

    base_slots: int
    used_slots: int
    ad_unlocks: int
    cooldown_unlocks: int
    cooldown_started_at: datetime | None


# Constant statements: slot accounting runs on every prediction submit.
_COLUMNS = "base_slots, used_slots, ad_unlocks, cooldown_unlocks, cooldown_started_at"
_GET = text(f"SELECT {_COLUMNS} FROM crypto.user_limits WHERE user_id = :user_id AND trading_day = :day")
_LOCK = text(
    f"SELECT {_COLUMNS} FROM crypto.user_limits WHERE user_id = :user_id AND trading_day = :day FOR UPDATE"
)
_CREATE = text(
    "INSERT INTO crypto.user_limits (user_id, trading_day, base_slots) VALUES (:user_id, :day, :base) "
    "ON CONFLICT (user_id, trading_day) DO NOTHING"
)
_SAVE = text(
    """
    UPDATE crypto.user_limits SET
        used_slots = :used_slots, ad_unlocks = :ad_unlocks, cooldown_unlocks = :cooldown_unlocks,
        cooldown_started_at = :cooldown_started_at, cooldown_until = :cooldown_until, updated_at = :now
    WHERE user_id = :user_id AND trading_day = :day
    """
)


class SlotsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _read(self, statement: TextClause, user_id: int, trading_day: date) -> DailySlotsRow | None:
        row = self.session.execute(statement, {"user_id": user_id, "day": trading_day}).first()
        return None if row is None else DailySlotsRow(*row)

    def lock(self, user_id: int, trading_day: date, base_slots: int) -> DailySlotsRow:
        """The player's row for the day, created if missing and locked (FOR UPDATE):
        every slot change of one player and day is serialised on it. One statement
        when the row exists (every submit but the day's first)."""
        row = self._read(_LOCK, user_id, trading_day)
        if row is None:
            self.session.execute(_CREATE, {"user_id": user_id, "day": trading_day, "base": base_slots})
            row = self._read(_LOCK, user_id, trading_day)
        assert row is not None  # created above, or by a concurrent request (then locked)
        return row

    def get(self, user_id: int, trading_day: date) -> DailySlotsRow | None:
        return self._read(_GET, user_id, trading_day)

    def save_state(
        self,
        user_id: int,
        trading_day: date,
        state: SlotState,
        cooldown_until: datetime | None,
        now: datetime,
    ) -> None:
        self.session.execute(
            _SAVE,
            {
                "used_slots": state.used,
                "ad_unlocks": state.ad_unlocks,
                "cooldown_unlocks": state.cooldown_unlocks,
                "cooldown_started_at": state.cooldown_started_at,
                "cooldown_until": cooldown_until,
                "now": now,
                "user_id": user_id,
                "day": trading_day,
            },
        )

    def record_unlock(
        self,
        *,
        user_id: int,
        trading_day: date,
        method: str,
        slots: int,
        nonce: str | None,
        now: datetime,
    ) -> bool:
        """Record an unlock. For ads the nonce is unique: False means it was used before."""
        stmt = (
            insert(AdUnlock)
            .values(
                user_id=user_id,
                trading_day=trading_day,
                method=method,
                unlocked_slots=slots,
                receipt_nonce=nonce,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["receipt_nonce"])
            .returning(AdUnlock.id)
        )
        return self.session.execute(stmt).first() is not None

    def history(self, user_id: int, limit: int, offset: int) -> tuple[list[AdUnlock], int]:
        where = AdUnlock.user_id == user_id
        total = int(self.session.scalar(select(func.count()).where(where)) or 0)
        rows = self.session.scalars(
            select(AdUnlock).where(where).order_by(AdUnlock.id.desc()).limit(limit).offset(offset)
        )
        return list(rows), total
