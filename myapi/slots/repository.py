"""SQL for per-day slot accounting and ad unlocks. Never commits."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.slots.models import AdUnlock, UserLimit
from myapi.slots.policy import SlotState


class SlotsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self, user_id: int, trading_day: date, base_slots: int) -> UserLimit:
        """The player's row for the day, created if missing and locked (FOR UPDATE):
        every slot change of one player and day is serialised on it."""
        self.session.execute(
            insert(UserLimit)
            .values(user_id=user_id, trading_day=trading_day, base_slots=base_slots)
            .on_conflict_do_nothing(index_elements=["user_id", "trading_day"])
        )
        stmt = (
            select(UserLimit)
            .where(UserLimit.user_id == user_id, UserLimit.trading_day == trading_day)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return self.session.scalars(stmt).one()

    def get(self, user_id: int, trading_day: date) -> UserLimit | None:
        return self.session.get(UserLimit, (user_id, trading_day))

    def save_state(
        self,
        user_id: int,
        trading_day: date,
        state: SlotState,
        cooldown_until: datetime | None,
        now: datetime,
    ) -> None:
        self.session.execute(
            update(UserLimit)
            .where(UserLimit.user_id == user_id, UserLimit.trading_day == trading_day)
            .values(
                used_slots=state.used,
                ad_unlocks=state.ad_unlocks,
                cooldown_unlocks=state.cooldown_unlocks,
                cooldown_started_at=state.cooldown_started_at,
                cooldown_until=cooldown_until,
                updated_at=now,
            )
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
