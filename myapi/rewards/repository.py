"""SQL for the rewards catalog and the redemptions. Never commits: the caller's unit of
work does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.core.enums import RedemptionStatus
from myapi.rewards.models import RewardInventory, RewardRedemption

# Statuses that count against the monthly cap and are still in flight.
IN_FLIGHT = (RedemptionStatus.REQUESTED, RedemptionStatus.RESERVED)
COUNTED = (*IN_FLIGHT, RedemptionStatus.ISSUED)
FINAL = (RedemptionStatus.ISSUED, RedemptionStatus.CANCELLED, RedemptionStatus.FAILED)


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    title: str
    cost_points: int
    stock: int
    vendor: str


class RewardsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- the catalog -------------------------------------------------------------------
    def insert_missing_items(self, items: Sequence[CatalogItem]) -> int:
        """Add catalog items whose SKU is not there yet; existing items are left alone."""
        if not items:
            return 0
        stmt = (
            insert(RewardInventory)
            .values(
                [
                    {
                        "sku": item.sku,
                        "title": item.title,
                        "cost_points": item.cost_points,
                        "stock": item.stock,
                        "vendor": item.vendor,
                    }
                    for item in items
                ]
            )
            .on_conflict_do_nothing(index_elements=["sku"])
            .returning(RewardInventory.sku)
        )
        return len(self.session.execute(stmt).all())

    def active_items(self) -> list[RewardInventory]:
        stmt = (
            select(RewardInventory)
            .where(RewardInventory.is_active.is_(True))
            .order_by(RewardInventory.cost_points, RewardInventory.sku)
        )
        return list(self.session.scalars(stmt))

    def all_items(self) -> list[RewardInventory]:
        return list(self.session.scalars(select(RewardInventory).order_by(RewardInventory.sku)))

    def get_item(self, sku: str, *, lock: bool = False) -> RewardInventory | None:
        stmt = select(RewardInventory).where(RewardInventory.sku == sku)
        if lock:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def upsert_item(
        self,
        *,
        sku: str,
        title: str,
        cost_points: int,
        stock: int,
        vendor: str,
        is_active: bool,
        now: datetime,
    ) -> RewardInventory:
        values = {
            "title": title, "cost_points": cost_points, "stock": stock, "vendor": vendor,
            "is_active": is_active, "updated_at": now,
        }  # fmt: skip
        stmt = (
            insert(RewardInventory)
            .values(sku=sku, created_at=now, **values)
            .on_conflict_do_update(index_elements=["sku"], set_=values)
            .returning(RewardInventory)
            .execution_options(populate_existing=True)
        )
        return self.session.scalars(stmt).one()

    def move_vendor(self, old: str, new: str, now: datetime) -> int:
        """Point the SKUs of vendor `old` at vendor `new`; how many moved."""
        result = self.session.execute(
            update(RewardInventory).where(RewardInventory.vendor == old).values(vendor=new, updated_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def set_active(self, sku: str, active: bool, now: datetime) -> None:
        self.session.execute(
            update(RewardInventory).where(RewardInventory.sku == sku).values(is_active=active, updated_at=now)
        )

    def try_reserve(self, sku: str, now: datetime) -> bool:
        """Reserve one unit of an active SKU if one is left (reserved + issued < stock),
        in one statement: the row lock is held only until the caller commits."""
        result = self.session.execute(
            update(RewardInventory)
            .where(
                RewardInventory.sku == sku,
                RewardInventory.is_active.is_(True),
                RewardInventory.reserved + RewardInventory.issued < RewardInventory.stock,
            )
            .values(reserved=RewardInventory.reserved + 1, updated_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    def release(self, sku: str, now: datetime) -> None:
        """Give a reserved unit back (compensation)."""
        self._move(sku, now, reserved=RewardInventory.reserved - 1)

    def mark_issued(self, sku: str, now: datetime) -> None:
        """A reserved unit became an issued code."""
        self._move(sku, now, reserved=RewardInventory.reserved - 1, issued=RewardInventory.issued + 1)

    def _move(self, sku: str, now: datetime, **counts: Any) -> None:
        result = self.session.execute(
            update(RewardInventory)
            .where(RewardInventory.sku == sku, RewardInventory.reserved > 0)
            .values(updated_at=now, **counts)
        )
        if not getattr(result, "rowcount", 0):
            raise LookupError(f"{sku} has no reserved unit to move")

    # --- redemptions -------------------------------------------------------------------
    def add_redemption(
        self, *, user_id: int, sku: str, cost_points: int, vendor: str, now: datetime,
        retry_of: int | None = None,
    ) -> RewardRedemption:  # fmt: skip
        redemption = RewardRedemption(
            user_id=user_id, sku=sku, cost_points=cost_points, vendor=vendor,
            status=RedemptionStatus.REQUESTED, retry_of=retry_of, vendor_attempts=0,
            created_at=now, updated_at=now,
        )  # fmt: skip
        self.session.add(redemption)
        self.session.flush()
        return redemption

    def get(self, redemption_id: int, *, lock: bool = False) -> RewardRedemption | None:
        stmt = select(RewardRedemption).where(RewardRedemption.id == redemption_id)
        if lock:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def retry_of(self, redemption_id: int) -> int | None:
        """The id of the redemption that retries `redemption_id`, if any."""
        stmt = select(RewardRedemption.id).where(RewardRedemption.retry_of == redemption_id).limit(1)
        found = self.session.scalar(stmt)
        return int(found) if found is not None else None

    def count_since(self, user_id: int, since: datetime) -> int:
        """The user's redemptions created since `since` that count against the cap."""
        stmt = select(func.count()).where(
            RewardRedemption.user_id == user_id,
            RewardRedemption.created_at >= since,
            RewardRedemption.status.in_(COUNTED),
        )
        return int(self.session.scalar(stmt) or 0)

    def unheld_cost(self, user_id: int) -> int:
        """Points of the user's REQUESTED redemptions whose saga has not placed its hold
        yet (promised, but not held)."""
        return int(
            self.session.execute(
                text(
                    """
                    SELECT COALESCE(sum(r.cost_points), 0) FROM crypto.rewards_redemptions r
                    WHERE r.user_id = :user_id AND r.status = 'REQUESTED'
                      AND NOT EXISTS (SELECT 1 FROM crypto.points_holds h
                                      WHERE h.ref_type = 'REDEEM' AND h.ref_id = r.id::text)
                    """
                ),
                {"user_id": user_id},
            ).scalar_one()
        )

    def page(
        self,
        limit: int,
        offset: int,
        *,
        status: RedemptionStatus | None = None,
        user_id: int | None = None,
        sku: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        vendor_state: str | None = None,
    ) -> tuple[list[RewardRedemption], int]:
        conditions = []
        if status is not None:
            conditions.append(RewardRedemption.status == status)
        if user_id is not None:
            conditions.append(RewardRedemption.user_id == user_id)
        if sku is not None:
            conditions.append(RewardRedemption.sku == sku)
        if created_from is not None:
            conditions.append(RewardRedemption.created_at >= created_from)
        if created_to is not None:
            conditions.append(RewardRedemption.created_at < created_to)
        if vendor_state is not None:
            conditions.append(RewardRedemption.vendor_state == vendor_state)
        total = int(
            self.session.scalar(select(func.count()).select_from(RewardRedemption).where(*conditions)) or 0
        )
        rows = self.session.scalars(
            select(RewardRedemption)
            .where(*conditions)
            .order_by(RewardRedemption.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(rows), total

    def titles(self, skus: set[str]) -> dict[str, str]:
        if not skus:
            return {}
        rows = self.session.execute(
            select(RewardInventory.sku, RewardInventory.title).where(RewardInventory.sku.in_(skus))
        )
        return {sku: title for sku, title in rows}

    def due_for_sweep(
        self, *, idle_before: datetime, poll_before: datetime, limit: int, lock: bool = False
    ) -> list[RewardRedemption]:
        """Sagas to resume: in flight and idle since `idle_before` (a lost or dead-lettered
        message, a crashed worker), or waiting on a vendor answer (PENDING / UNKNOWN)
        last read before `poll_before`. Oldest first; `lock` takes them FOR UPDATE SKIP
        LOCKED (a saga step holding one is not waited for)."""
        stmt = (
            select(RewardRedemption)
            .where(
                RewardRedemption.status.in_(IN_FLIGHT),
                (RewardRedemption.updated_at < idle_before)
                | (
                    RewardRedemption.vendor_state.in_(("PENDING", "UNKNOWN"))
                    & (RewardRedemption.vendor_checked_at < poll_before)
                ),
            )
            .order_by(RewardRedemption.updated_at, RewardRedemption.id)
            .limit(limit)
        )
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.session.scalars(stmt))
