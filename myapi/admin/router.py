"""/admin: operator routes. Every route here requires role ADMIN (router-level guard)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from myapi.admin.schemas import EarlyCutoffIn, IntegrityOut
from myapi.auth.guards import AdminDep, require_admin
from myapi.core.enums import RedemptionStatus
from myapi.core.idempotency import IdempotentDep
from myapi.core.pagination import PageDep
from myapi.core.schemas import Envelope, ok
from myapi.deps import (
    AdminServiceDep,
    JobsDep,
    RewardSagaDep,
    RewardServiceDep,
    SettlementQueriesDep,
    UniverseServiceDep,
    UserServiceDep,
)
from myapi.jobs.schemas import JobOut, JobRunOut
from myapi.points.schemas import AdjustIn, AdjustOut
from myapi.rewards.schemas import (
    AdminRedemptionOut,
    InventoryItemOut,
    InventoryUpsertIn,
    ReasonIn,
    RefundIn,
    Sku,
)
from myapi.rewards.service import RedemptionFilter
from myapi.settlement.schemas import SettlementSummaryOut
from myapi.universe.schemas import UniverseUpsertIn, UniverseUpsertOut
from myapi.users.schemas import MeOut, RoleUpdate, profile_out

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.get("/users/{user_id}", summary="Look up a user with their points balance")
def get_user(user_id: int, users: UserServiceDep) -> Envelope[MeOut]:
    """Looks up one user by id with their profile, role, account state and points balance (`USER_404`
    for none)."""
    return ok(profile_out(users.profile(user_id)))


@router.patch("/users/{user_id}/role", summary="Grant or revoke ADMIN (audited)")
def set_role(user_id: int, body: RoleUpdate, admin: AdminDep, users: UserServiceDep) -> Envelope[MeOut]:
    """Grants or revokes the ADMIN role of a user, with the reason kept in the audit log; the change
    takes effect at the user's next request (the role is read from the database)."""
    return ok(profile_out(users.set_role(admin.id, user_id, body.role, body.reason)))


@router.post("/universe/upsert", summary="Replace a trading day's universe atomically (audited)")
def universe_upsert(
    body: UniverseUpsertIn, admin: AdminDep, universe: UniverseServiceDep
) -> Envelope[UniverseUpsertOut]:
    """Replaces the universe of a trading day (default: the current one) atomically with the symbols
    given, in order (default: the built-in list): added, kept or removed; answers the counts and
    the symbols still without a baseline (audited)."""
    result = universe.upsert(body.trading_day, body.symbols, actor=f"user:{admin.id}", actor_user_id=admin.id)
    return ok(result)


@router.post(
    "/users/{user_id}/adjust-points",
    summary="Add or take points (reason required; audited; honours Idempotency-Key: a retry with the "
    "same key replays the first answer and credits once)",
    response_model=Envelope[AdjustOut],
)
def adjust_points(
    user_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    body: AdjustIn,
    admin: AdminDep,
    service: AdminServiceDep,
    idem: IdempotentDep,
) -> Envelope[AdjustOut] | JSONResponse:
    """Adds points to or takes points from a player's balance, with a reason (audited; ledger reference
    `ADMIN:{audit_id}`). A debit never takes the balance below the points held by redemptions in
    flight (`POINT_001`). A retry with the same Idempotency-Key replays the first answer and changes
    the balance once."""

    def produce() -> Envelope[AdjustOut]:
        audit_id, result = service.adjust_points(
            admin_id=admin.id, user_id=user_id, delta=body.delta, reason=body.reason
        )
        return ok(
            AdjustOut(
                audit_id=audit_id,
                entry_id=result.entry_id,
                delta=result.delta,
                balance_after=result.balance_after,
            )
        )

    return idem.run(admin.id, 200, produce)


@router.get("/integrity", summary="Every ledger/game invariant: pass or fail, with offending rows")
def integrity(
    service: AdminServiceDep, limit: int = Query(default=20, ge=1, le=200)
) -> Envelope[IntegrityOut]:
    """Runs every invariant of the ledger and the game (balances match the ledger, holds fit the
    balances, settled days have no pending prediction, points won match the ledger, reward
    stock and redemptions add up) and answers each check as pass or fail with up to `limit`
    offending rows."""
    return ok(IntegrityOut.model_validate(service.integrity(limit)))


@router.get("/settlement/{trading_day}", summary="Settlement summary: counts, points, VOID reasons")
def settlement_summary(trading_day: date, queries: SettlementQueriesDep) -> Envelope[SettlementSummaryOut]:
    """A settled day for operators: prediction counts by status, points issued, VOID reasons and the
    symbols by outcome."""
    row, summary = queries.summary(trading_day)
    return ok(SettlementSummaryOut(trading_day=trading_day, settled_at=row.settled_at, **summary))


@router.get("/jobs", summary="Recent batch job runs (newest first), optionally of one job")
def job_runs(
    service: AdminServiceDep,
    job: str | None = Query(default=None, max_length=64),
    limit: int = Query(default=50, ge=1, le=500),
) -> Envelope[list[JobRunOut]]:
    """The latest batch job runs, newest first, optionally of one job: status, trading day, timing and
    details, as the scheduler and the workers recorded them."""
    return ok([JobRunOut.model_validate(r) for r in service.job_runs(limit, job)])


@router.post(
    "/sessions/{trading_day}/early-cutoff",
    summary="Close a day for predictions before its scheduled cutoff (reason required; audited)",
)
def early_cutoff(trading_day: date, body: EarlyCutoffIn, admin: AdminDep, jobs: JobsDep) -> Envelope[JobOut]:
    """Closes a trading day for predictions now, before its scheduled cutoff (a market emergency), with
    the reason kept in the audit log; the day then settles as usual."""
    result = jobs.early_cutoff(trading_day, reason=body.reason, actor=f"user:{admin.id}")
    return ok(JobOut.model_validate(result))


# --- rewards ----------------------------------------------------------------------------
RedemptionId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/rewards/inventory", summary="Every reward SKU with stock, reserved, issued and available")
def reward_inventory(service: RewardServiceDep) -> Envelope[list[InventoryItemOut]]:
    """Every reward SKU, active or not, with its stock, reserved, issued and available counts, cost,
    and vendor."""
    return ok([InventoryItemOut.of(item) for item in service.items()])


@router.post("/rewards/inventory", summary="Create or change a reward SKU (audited)")
def reward_upsert(
    body: InventoryUpsertIn, admin: AdminDep, service: RewardServiceDep
) -> Envelope[InventoryItemOut]:
    """Creates a reward SKU or changes one: title, cost in points, stock, vendor and whether it is
    active (audited). Stock cannot go below what is already reserved and issued."""
    item = service.upsert_item(
        sku=body.sku, title=body.title, cost_points=body.cost_points, stock=body.stock,
        vendor=body.vendor, is_active=body.is_active, admin_id=admin.id,
    )  # fmt: skip
    return ok(InventoryItemOut.of(item))


@router.post(
    "/rewards/inventory/{sku}/deactivate",
    summary="Stop new redemptions of a SKU (reason required; audited); those in flight finish",
)
def reward_deactivate(
    sku: Annotated[Sku, Path()], body: ReasonIn, admin: AdminDep, service: RewardServiceDep
) -> Envelope[InventoryItemOut]:
    """Stops new redemptions of a SKU, with a reason (audited); redemptions already in flight finish,
    those that have not reserved stock yet fail."""
    return ok(InventoryItemOut.of(service.deactivate(sku, reason=body.reason, admin_id=admin.id)))


@router.get(
    "/rewards/redemptions", summary="Redemptions, newest first, filtered (paginated; never the codes)"
)
def reward_redemptions(
    service: RewardServiceDep,
    page: PageDep,
    status: RedemptionStatus | None = None,
    user_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    sku: Annotated[Sku | None, Query()] = None,
    created_from: Annotated[AwareDatetime | None, Query(description="ISO-8601 with an offset")] = None,
    created_to: Annotated[
        AwareDatetime | None, Query(description="exclusive; ISO-8601 with an offset")
    ] = None,
    vendor_state: Annotated[
        Literal["PENDING", "UNKNOWN", "UNAVAILABLE", "ORPHANED"] | None,
        Query(description="ORPHANED: a code the vendor issued after the redemption was compensated"),
    ] = None,
) -> Envelope[list[AdminRedemptionOut]]:
    """Every player's redemptions, newest first, filtered by status, player, SKU, creation time or the
    saga's vendor state; paginated, `meta.total`. The codes are never shown here."""
    where = RedemptionFilter(status, user_id, sku, created_from, created_to, vendor_state)
    views, total = service.redemptions(where, page.limit, page.offset)
    return ok([AdminRedemptionOut.of(v) for v in views], total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/rewards/redemptions/{redemption_id}/retry",
    status_code=202,
    summary="Retry a FAILED redemption as a new one at the same cost (reason required; audited)",
)
def reward_retry(
    redemption_id: RedemptionId, body: ReasonIn, admin: AdminDep, service: RewardServiceDep
) -> Envelope[AdminRedemptionOut]:
    """Retries a FAILED redemption as a new one at the original cost, through the whole saga (202; the
    monthly cap does not apply), with a reason (audited)."""
    return ok(AdminRedemptionOut.of(service.retry(redemption_id, reason=body.reason, admin_id=admin.id)))


@router.post(
    "/rewards/redemptions/{redemption_id}/refund",
    summary="End a stuck redemption by hand: stock and points back (reason required; audited). "
    "The vendor is asked first: an order it issued is completed instead; a call in flight refuses it; "
    "an open answer (PENDING, no answer) needs force",
)
def reward_refund(
    redemption_id: RedemptionId, body: RefundIn, admin: AdminDep, saga: RewardSagaDep
) -> Envelope[AdminRedemptionOut]:
    """Ends a stuck redemption by hand, with a reason (audited): the vendor is asked first, and an
    order it issued is completed instead. Refused while a vendor call is in flight; an open answer
    (PENDING, no answer) needs `force`. Otherwise the redemption FAILS and the stock and points go
    back."""
    view = saga.refund(redemption_id, reason=body.reason, admin_id=admin.id, force=body.force)
    return ok(AdminRedemptionOut.of(view))
