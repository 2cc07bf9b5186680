"""SQL for the rewards catalog. Never commits: the caller's unit of work does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.rewards.models import RewardInventory


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
