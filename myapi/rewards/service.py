"""Rewards: the catalog, redeeming points for a gift code, and the saga's steps
(SPEC §5 Rewards).

A redemption is a saga over a two-phase transfer of points (myapi.points.service):

    REQUESTED --hold points--> (REQUESTED, hold OPEN) --reserve stock--> RESERVED
      --vendor issue (myapi.rewards.saga)--> commit: debit REDEEM:{id}, hold COMMITTED,
                                             stock issued, ISSUED with the code
    any failure before the code: compensate in reverse (release the stock, void the
    hold) -> FAILED (the saga) or CANCELLED (the player, an operator) with a reason.

Each step here is one short transaction over the caller's session, and each is
idempotent: it locks the redemption row first (lock order: redemption, then the
player's balance, then the SKU's stock row), re-reads the state, and does nothing when
the step was already done. `RewardService` holds the player's and the operator's use
cases over one request's session; `RedemptionSteps` the transitions the saga, the
player's cancel and an operator's refund share.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from myapi.audit.repository import AuditRepository
from myapi.core.clock import Clock
from myapi.core.config import Settings
from myapi.core.enums import RedemptionStatus
from myapi.core.errors import AppError, ConflictError, NotFoundError
from myapi.events.catalogue import RewardOutcome, RewardRequested, Topic, emit
from myapi.points.service import InsufficientPointsError, PointsLedger
from myapi.rewards.models import RewardInventory, RewardRedemption
from myapi.rewards.repository import IN_FLIGHT, RewardsRepository

logger = logging.getLogger("myapi.rewards")

KST = ZoneInfo("Asia/Seoul")
HOLD_REF = "REDEEM"  # the hold and its debit: REDEEM:{redemption id}


class OutOfStockError(ConflictError):
    code = "REWARD_001"
    message = "This reward is out of stock"


class MonthlyCapError(ConflictError):
    code = "REWARD_002"
    message = "Monthly redemption limit reached"


class UnknownRewardError(AppError):
    status_code = 404
    code = "REWARD_003"
    message = "Unknown or inactive reward"


class NotCancellableError(ConflictError):
    code = "REWARD_004"
    message = "This redemption can no longer be cancelled"


class StockBelowCommittedError(ConflictError):
    code = "REWARD_005"
    message = "Stock cannot go below what is reserved and issued"


class RedemptionStateError(ConflictError):
    code = "REWARD_006"
    message = "The redemption's state does not allow this"


class UnknownVendorError(AppError):
    status_code = 422
    code = "REWARD_007"
    message = "No such reward vendor is configured"


class RedemptionNotFoundError(NotFoundError):
    code = "REWARD_404"
    message = "Redemption not found"
    retry_from_queue = False  # a saga message for no redemption: nothing to retry


def hold_ref(redemption_id: int) -> tuple[str, str]:
    return HOLD_REF, str(redemption_id)


def month_start_kst(now: datetime) -> datetime:
    """The first instant of `now`'s KST calendar month."""
    local = now.astimezone(KST)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def attempts_span_timeout(r: RewardRedemption, settings: Settings) -> bool:
    """The redemption's issue attempts span at least REWARD_SAGA_TIMEOUT_S (first to
    last): only then may a redemption the vendor has no order for be given up."""
    if r.vendor_requested_at is None or r.vendor_last_attempt_at is None:
        return False
    span = r.vendor_last_attempt_at - r.vendor_requested_at
    return span >= timedelta(seconds=settings.reward_saga_timeout_s)


@dataclass(frozen=True)
class StepResult:
    """What a step left: the redemption's status and whether this call changed it."""

    status: RedemptionStatus
    changed: bool
    reason: str | None = None


class RedemptionSteps:
    """The saga's transitions, each in the caller's transaction (one per step)."""

    def __init__(self, session: Session, clock: Clock, settings: Settings) -> None:
        self._session = session
        self._clock = clock
        self._settings = settings
        self._repo = RewardsRepository(session)
        self._ledger = PointsLedger(session, clock)

    def lock(self, redemption_id: int) -> RewardRedemption:
        redemption = self._repo.get(redemption_id, lock=True)
        if redemption is None:
            raise RedemptionNotFoundError(details={"redemption_id": redemption_id})
        return redemption

    def hold(self, redemption_id: int) -> StepResult:
        """Step 1: hold the cost (balance less open holds must cover it), else FAILED."""
        r = self.lock(redemption_id)
        if r.status != RedemptionStatus.REQUESTED:
            return StepResult(r.status, False)
        now = self._clock.now()
        try:
            self._ledger.hold(
                user_id=r.user_id, amount=r.cost_points, ref_type=HOLD_REF, ref_id=str(r.id),
                expires_at=now + timedelta(seconds=self._settings.reward_saga_timeout_s),
            )  # fmt: skip
        except InsufficientPointsError:
            return self._finish(r, RedemptionStatus.FAILED, "insufficient points")
        self._touch(r, now)
        return StepResult(r.status, True)

    def reserve(self, redemption_id: int) -> StepResult:
        """Step 2: reserve one unit of the SKU (reserved + issued <= stock), else
        compensate: void the hold, FAILED out of stock."""
        r = self.lock(redemption_id)
        if r.status != RedemptionStatus.REQUESTED:
            return StepResult(r.status, False)
        now = self._clock.now()
        if not self._repo.try_reserve(r.sku, now):
            item = self._repo.get_item(r.sku)
            reason = "out of stock" if item is not None and item.is_active else "reward no longer available"
            return self.compensate(r.id, RedemptionStatus.FAILED, reason)
        r.status = RedemptionStatus.RESERVED
        r.reserved_at = now
        self._touch(r, now)
        return StepResult(r.status, True)

    def begin_vendor_call(self, redemption_id: int) -> RewardRedemption | None:
        """Record that the vendor is about to be asked (before asking it, so a crash
        mid-call is known). None when the redemption is not RESERVED any more."""
        r = self.lock(redemption_id)
        if r.status != RedemptionStatus.RESERVED:
            return None
        now = self._clock.now()
        r.vendor_requested_at = r.vendor_requested_at or now
        r.vendor_last_attempt_at = now
        r.vendor_attempts += 1
        r.vendor_checked_at = now
        # The call's lease: until then its answer may still come, so nobody gives up on
        # the order (give_up, an operator's refund).
        r.vendor_call_until = now + timedelta(seconds=self._settings.reward_vendor_call_budget_s)
        self._touch(r, now)
        return r

    def record_vendor_state(self, redemption_id: int, state: str) -> StepResult:
        """The vendor's answer is not final yet (PENDING / UNKNOWN / UNAVAILABLE)."""
        r = self.lock(redemption_id)
        if r.status != RedemptionStatus.RESERVED:
            return StepResult(r.status, False)
        now = self._clock.now()
        r.vendor_state = state
        r.vendor_checked_at = now
        r.vendor_call_until = None
        self._touch(r, now)
        return StepResult(r.status, True)

    def give_up(self, redemption_id: int, reason: str, *, seen_attempts: int) -> StepResult:
        """Compensate a RESERVED redemption whose vendor has no order under its key
        after the last attempt — only if nothing moved since that answer was read (the
        same attempt count), no call is in flight (its lease expired), and its attempts
        span REWARD_SAGA_TIMEOUT_S (`may_give_up`: an outage shorter than that never
        fails a redemption). Otherwise it is left for a later attempt."""
        r = self.lock(redemption_id)
        now = self._clock.now()
        if (
            r.status != RedemptionStatus.RESERVED
            or r.vendor_attempts != seen_attempts
            or (r.vendor_call_until is not None and r.vendor_call_until > now)
            or not attempts_span_timeout(r, self._settings)
        ):
            return StepResult(r.status, False)
        return self.compensate(r.id, RedemptionStatus.FAILED, reason)

    def commit(self, redemption_id: int, code: str) -> StepResult:
        """Step 4: the vendor issued `code`: debit the hold (ledger ref REDEEM:{id}),
        hold COMMITTED, the unit issued, ISSUED with the code."""
        r = self.lock(redemption_id)
        if r.status != RedemptionStatus.RESERVED:
            if r.status != RedemptionStatus.ISSUED and r.vendor_state != "ORPHANED":
                # The vendor issued a code for a redemption compensated meanwhile (an
                # answer later than every lease): keep the fact for an operator.
                logger.error(
                    "redemption %s is %s but its vendor issued a code: void it at the vendor",
                    r.id, r.status, extra={"redemption_id": r.id},
                )  # fmt: skip
                r.vendor_state = "ORPHANED"
                self._touch(r, self._clock.now())
            return StepResult(r.status, False)
        now = self._clock.now()
        ref_type, ref_id = hold_ref(r.id)
        self._ledger.commit_hold(ref_type, ref_id, reason="reward_redemption")
        self._repo.mark_issued(r.sku, now)
        r.status = RedemptionStatus.ISSUED
        r.vendor_code = code
        r.vendor_state = None
        r.vendor_call_until = None
        r.issued_at = r.finished_at = now
        self._touch(r, now)
        self._emit_outcome(r, Topic.REWARD_ISSUED)
        return StepResult(r.status, True)

    def compensate(self, redemption_id: int, status: RedemptionStatus, reason: str) -> StepResult:
        """Undo in reverse: release the reserved unit, void the hold; end `status`
        (FAILED or CANCELLED) with `reason`. A no-op on a final redemption."""
        r = self.lock(redemption_id)
        if r.status not in IN_FLIGHT:
            return StepResult(r.status, False)
        now = self._clock.now()
        if r.status == RedemptionStatus.RESERVED:
            self._repo.release(r.sku, now)
        self._ledger.void_hold(*hold_ref(r.id))
        return self._finish(r, status, reason)

    def requeue_due(self, *, idle_before: datetime, poll_before: datetime, limit: int) -> list[int]:
        """The sweeper's step: sagas in flight and idle since `idle_before`, or waiting on
        a vendor answer last read before `poll_before` (rows another process holds are
        skipped), each handed back to the saga workers with a `reward.requested` event
        and marked seen now."""
        now = self._clock.now()
        due = self._repo.due_for_sweep(
            idle_before=idle_before, poll_before=poll_before, limit=limit, lock=True
        )
        for r in due:
            if r.vendor_state in ("PENDING", "UNKNOWN"):
                r.vendor_checked_at = now
            r.updated_at = now
            emit(
                self._session, RewardRequested(redemption_id=r.id), Topic.REWARD_REQUESTED,
                now=now, dedup_id=f"reward-{r.id}-sweep-{int(now.timestamp())}",
            )  # fmt: skip
        self._session.flush()
        return [r.id for r in due]

    def _finish(self, r: RewardRedemption, status: RedemptionStatus, reason: str) -> StepResult:
        now = self._clock.now()
        r.status = status
        r.failure_reason = reason[:500]
        r.vendor_state = None
        r.vendor_call_until = None
        r.finished_at = now
        self._touch(r, now)
        if status == RedemptionStatus.FAILED:
            self._emit_outcome(r, Topic.REWARD_FAILED)
        return StepResult(status, True, reason)

    def _touch(self, r: RewardRedemption, now: datetime) -> None:
        r.updated_at = now
        self._session.flush()

    def _emit_outcome(self, r: RewardRedemption, topic: Topic) -> None:
        title = self._repo.titles({r.sku}).get(r.sku, r.sku)
        emit(
            self._session,
            RewardOutcome(
                redemption_id=r.id, user_id=r.user_id, sku=r.sku, title=title, cost_points=r.cost_points,
                status=str(r.status), reason=r.failure_reason,
            ),
            topic,
            now=self._clock.now(),
            dedup_id=f"{topic}-{r.id}",
        )  # fmt: skip


@dataclass(frozen=True)
class RedemptionFilter:
    """An operator's filter over redemptions (every field optional)."""

    status: RedemptionStatus | None = None
    user_id: int | None = None
    sku: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    vendor_state: str | None = None


@dataclass(frozen=True)
class RedemptionView:
    redemption: RewardRedemption
    title: str


class RewardService:
    """The player's and the operator's use cases, over one request's session."""

    def __init__(
        self, session: Session, clock: Clock, settings: Settings, vendor_names: Collection[str]
    ) -> None:
        self._session = session
        self._clock = clock
        self._settings = settings
        self._vendor_names = frozenset(vendor_names)
        self._repo = RewardsRepository(session)
        self._ledger = PointsLedger(session, clock)
        self._steps = RedemptionSteps(session, clock, settings)

    # --- the player --------------------------------------------------------------------
    def catalog(self) -> list[RewardInventory]:
        """Active rewards, cheapest first, with their available stock."""
        return self._repo.active_items()

    def redeem(self, user_id: int, sku: str) -> RedemptionView:
        """Accept a redemption (REQUESTED) and start its saga through the outbox, in
        this transaction. Checked here, under the player's balance lock (one player's
        redemptions are serialised): the SKU is active (REWARD_003), the month's cap
        (REWARD_002), points not yet promised to other redemptions (POINT_001), stock
        left (REWARD_001, re-checked exactly when the saga reserves). The cost is the
        catalog's cost now."""
        item = self._repo.get_item(sku)
        if item is None or not item.is_active:
            raise UnknownRewardError(details={"sku": sku})
        if item.available <= 0:
            raise OutOfStockError(details={"sku": sku})
        points = self._ledger.available(user_id, lock=True)
        now = self._clock.now()
        cap = self._settings.reward_monthly_cap
        if cap:
            used = self._repo.count_since(user_id, month_start_kst(now))
            if used >= cap:
                raise MonthlyCapError(details={"cap": cap, "this_month": used})
        spendable = points.available - self._repo.unheld_cost(user_id)
        if spendable < item.cost_points:
            raise InsufficientPointsError(
                details={
                    "balance": points.balance,
                    "available": max(spendable, 0),
                    "required": item.cost_points,
                }
            )
        redemption = self._repo.add_redemption(
            user_id=user_id, sku=item.sku, cost_points=item.cost_points, vendor=item.vendor, now=now
        )
        self._start_saga(redemption)
        return RedemptionView(redemption, item.title)

    def mine(self, user_id: int, limit: int, offset: int) -> tuple[list[RedemptionView], int]:
        rows, total = self._repo.page(limit, offset, user_id=user_id)
        return self._views(rows), total

    def get_mine(self, user_id: int, redemption_id: int) -> RedemptionView:
        """One of the player's redemptions; another player's is REWARD_404 too."""
        r = self._repo.get(redemption_id)
        if r is None or r.user_id != user_id:
            raise RedemptionNotFoundError(details={"redemption_id": redemption_id})
        return self._views([r])[0]

    def cancel(self, user_id: int, redemption_id: int) -> RedemptionView:
        """Cancel before the vendor was asked for the code (REWARD_004 afterwards, and
        once final): stock and points are given back at once."""
        r = self._repo.get(redemption_id, lock=True)
        if r is None or r.user_id != user_id:
            raise RedemptionNotFoundError(details={"redemption_id": redemption_id})
        if r.status not in IN_FLIGHT or r.vendor_requested_at is not None:
            raise NotCancellableError(
                details={"status": str(r.status), "vendor_asked": r.vendor_requested_at is not None}
            )
        self._steps.compensate(r.id, RedemptionStatus.CANCELLED, "cancelled by the player")
        return self._views([r])[0]

    # --- the operator ------------------------------------------------------------------
    def items(self) -> list[RewardInventory]:
        return self._repo.all_items()

    def upsert_item(
        self,
        *,
        sku: str,
        title: str,
        cost_points: int,
        stock: int,
        vendor: str,
        is_active: bool,
        admin_id: int,
    ) -> RewardInventory:
        """Create or change a SKU (audited). The vendor must be configured (REWARD_007);
        stock never below what is reserved and issued (REWARD_005). A new cost applies
        to later redemptions only (each snapshots its cost)."""
        if vendor not in self._vendor_names:
            raise UnknownVendorError(details={"vendor": vendor, "configured": sorted(self._vendor_names)})
        now = self._clock.now()
        current = self._repo.get_item(sku, lock=True)
        if current is not None and stock < current.reserved + current.issued:
            raise StockBelowCommittedError(
                details={"stock": stock, "reserved": current.reserved, "issued": current.issued}
            )
        item = self._repo.upsert_item(
            sku=sku, title=title, cost_points=cost_points, stock=stock, vendor=vendor,
            is_active=is_active, now=now,
        )  # fmt: skip
        self._audit(
            admin_id, "rewards.inventory.upsert", f"sku:{sku}",
            {"title": title, "cost_points": cost_points, "stock": stock, "vendor": vendor,
             "is_active": is_active, "created": current is None},
        )  # fmt: skip
        return item

    def deactivate(self, sku: str, *, reason: str, admin_id: int) -> RewardInventory:
        """No new redemptions of the SKU (audited); those in flight finish or fail."""
        item = self._repo.get_item(sku, lock=True)
        if item is None:
            raise UnknownRewardError(details={"sku": sku})
        self._repo.set_active(sku, False, self._clock.now())
        self._audit(admin_id, "rewards.inventory.deactivate", f"sku:{sku}", {"reason": reason})
        self._session.refresh(item)
        return item

    def redemptions(
        self, where: RedemptionFilter, limit: int, offset: int
    ) -> tuple[list[RedemptionView], int]:
        rows, total = self._repo.page(limit, offset, **where.__dict__)
        return self._views(rows), total

    def retry(self, redemption_id: int, *, reason: str, admin_id: int) -> RedemptionView:
        """Retry a FAILED redemption (audited): a new redemption of the same SKU at the
        original cost, for the same player, through the whole saga again (REWARD_006
        for any other status, or when it was retried already: a FAILED retry is retried
        in its turn). The monthly cap does not apply: it replaces one."""
        failed = self._repo.get(redemption_id, lock=True)
        if failed is None:
            raise RedemptionNotFoundError(details={"redemption_id": redemption_id})
        if failed.status != RedemptionStatus.FAILED:
            raise RedemptionStateError(details={"status": str(failed.status), "allowed": ["FAILED"]})
        earlier = self._repo.retry_of(failed.id)
        if earlier is not None:  # retried once already: the retry is the one to follow
            raise RedemptionStateError("This redemption was retried already", details={"retried_as": earlier})
        item = self._repo.get_item(failed.sku)
        if item is None or not item.is_active:
            raise UnknownRewardError(details={"sku": failed.sku})
        now = self._clock.now()
        retry = self._repo.add_redemption(
            user_id=failed.user_id, sku=item.sku, cost_points=failed.cost_points, vendor=item.vendor,
            now=now, retry_of=failed.id,
        )  # fmt: skip
        self._audit(
            admin_id, "rewards.redemption.retry", f"redemption:{failed.id}",
            {"reason": reason, "new_redemption_id": retry.id},
        )  # fmt: skip
        self._start_saga(retry)
        return RedemptionView(retry, item.title)

    def refund(
        self,
        redemption_id: int,
        *,
        reason: str,
        admin_id: int,
        vendor_answer: str | None,
        seen_attempts: int,
        force: bool = False,
    ) -> RedemptionView:
        """An operator ends a stuck redemption (audited): compensated like a failure,
        FAILED with the reason. Only while in flight (REWARD_006). `vendor_answer` is
        what the vendor said of the order just before (the saga's refund asks it, when
        the vendor was asked at all) after `seen_attempts` issue calls. Refused
        (REWARD_006) while a vendor call may still answer (its lease), when the saga
        moved on since that answer, and — unless `force` — when the answer leaves the
        outcome open (PENDING, no answer): a code may still be issued."""
        r = self._repo.get(redemption_id, lock=True)
        if r is None:
            raise RedemptionNotFoundError(details={"redemption_id": redemption_id})
        if r.status not in IN_FLIGHT:
            raise RedemptionStateError(
                details={"status": str(r.status), "allowed": [str(s) for s in IN_FLIGHT]}
            )
        if r.vendor_requested_at is not None:
            now = self._clock.now()
            if r.vendor_call_until is not None and r.vendor_call_until > now:
                raise RedemptionStateError(
                    "A vendor call is in flight; try again when it answered",
                    details={"status": str(r.status), "vendor_call_until": r.vendor_call_until.isoformat()},
                )
            if r.vendor_attempts != seen_attempts:
                raise RedemptionStateError(
                    "The saga moved on while the vendor was asked; try again",
                    details={"status": str(r.status)},
                )
            if vendor_answer not in ("FAILED", "no order") and not force:
                raise RedemptionStateError(
                    "The vendor's answer leaves the outcome open (a code may still be issued); "
                    "refund with force to end it anyway",
                    details={"status": str(r.status), "vendor_answer": vendor_answer},
                )
        self._audit(
            admin_id, "rewards.redemption.refund", f"redemption:{r.id}",
            {"reason": reason, "status_before": str(r.status), "vendor_answer": vendor_answer,
             "force": force},
        )  # fmt: skip
        self._steps.compensate(r.id, RedemptionStatus.FAILED, f"refunded by an operator: {reason}")
        return self._views([r])[0]

    # --- helpers -----------------------------------------------------------------------
    def _start_saga(self, r: RewardRedemption) -> None:
        emit(
            self._session, RewardRequested(redemption_id=r.id), Topic.REWARD_REQUESTED,
            now=self._clock.now(), dedup_id=f"reward-{r.id}",
        )  # fmt: skip

    def _views(self, rows: list[RewardRedemption]) -> list[RedemptionView]:
        titles = self._repo.titles({r.sku for r in rows})
        return [RedemptionView(r, titles.get(r.sku, r.sku)) for r in rows]

    def _audit(self, admin_id: int, action: str, target: str, payload: dict[str, object]) -> None:
        AuditRepository(self._session).record(
            actor=f"user:{admin_id}", actor_user_id=admin_id, action=action, target=target,
            payload=payload, now=self._clock.now(),
        )  # fmt: skip
