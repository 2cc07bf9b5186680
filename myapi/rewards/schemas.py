from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from myapi.core.enums import RedemptionStatus
from myapi.core.schemas import KstDateTime
from myapi.rewards.models import RewardInventory
from myapi.rewards.service import RedemptionView

SKU_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,63}")


def _sku(value: str) -> str:
    """SKUs are upper-case letters, digits, '-' and '_': `coffee` is `COFFEE`."""
    sku = value.upper()
    if not SKU_PATTERN.fullmatch(sku):
        raise ValueError("a SKU is 1-64 letters, digits, '-' or '_', starting with a letter or digit")
    return sku


Sku = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), AfterValidator(_sku)
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


class CatalogItemOut(BaseModel):
    sku: str
    title: str
    cost_points: int
    available: int = Field(description="Stock left to redeem (stock - reserved - issued)")

    @classmethod
    def of(cls, item: RewardInventory) -> CatalogItemOut:
        return cls(
            sku=item.sku, title=item.title, cost_points=item.cost_points, available=max(item.available, 0)
        )


class InventoryItemOut(CatalogItemOut):
    stock: int
    reserved: int
    issued: int
    vendor: str
    is_active: bool
    updated_at: KstDateTime

    @classmethod
    def of(cls, item: RewardInventory) -> InventoryItemOut:
        return cls(
            sku=item.sku, title=item.title, cost_points=item.cost_points, available=max(item.available, 0),
            stock=item.stock, reserved=item.reserved, issued=item.issued, vendor=item.vendor,
            is_active=item.is_active, updated_at=item.updated_at,
        )  # fmt: skip


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku


class RedeemAcceptedOut(BaseModel):
    redemption_id: int
    status: RedemptionStatus


class RedemptionOut(BaseModel):
    id: int
    sku: str
    title: str
    cost_points: int
    status: RedemptionStatus
    code: str | None = Field(description="The gift code, once ISSUED (only ever shown to its owner)")
    failure_reason: str | None
    created_at: KstDateTime
    reserved_at: KstDateTime | None
    issued_at: KstDateTime | None
    finished_at: KstDateTime | None

    @classmethod
    def of(cls, view: RedemptionView) -> RedemptionOut:
        r = view.redemption
        return cls(
            id=r.id, sku=r.sku, title=view.title, cost_points=r.cost_points, status=r.status,
            code=r.vendor_code, failure_reason=r.failure_reason, created_at=r.created_at,
            reserved_at=r.reserved_at, issued_at=r.issued_at, finished_at=r.finished_at,
        )  # fmt: skip


class AdminRedemptionOut(RedemptionOut):
    """An operator's view: who, the saga's vendor state; never the code."""

    user_id: int
    vendor: str
    vendor_state: str | None
    vendor_attempts: int
    vendor_requested_at: KstDateTime | None
    retry_of: int | None
    updated_at: KstDateTime

    @classmethod
    def of(cls, view: RedemptionView) -> AdminRedemptionOut:
        r = view.redemption
        base = RedemptionOut.of(view).model_dump()
        base["code"] = None
        return cls(
            **base, user_id=r.user_id, vendor=r.vendor, vendor_state=r.vendor_state,
            vendor_attempts=r.vendor_attempts, vendor_requested_at=r.vendor_requested_at,
            retry_of=r.retry_of, updated_at=r.updated_at,
        )  # fmt: skip


class InventoryUpsertIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    sku: Sku
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    cost_points: int = Field(gt=0, le=100_000_000)
    stock: int = Field(ge=0, le=10_000_000)
    vendor: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    is_active: bool = True


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class RefundIn(ReasonIn):
    force: bool = Field(
        default=False,
        description="End it even though the vendor's answer leaves the outcome open (PENDING, no answer)",
    )
