"""The redemption saga's driver: runs the steps of myapi.rewards.service, each in a
unit of work of its own, and talks to the vendor between them, never inside a
transaction (SPEC §5 Rewards).

`advance(id)` takes a redemption as far as it can go now, from whatever state it is in,
so one message drives a whole saga and a redelivered message, a restarted worker or the
sweeper simply resumes it:

* REQUESTED: hold the points, then reserve the stock (each may end FAILED, compensated);
* RESERVED, vendor not asked yet, or its last answer was "not accepted": record the
  attempt, then `issue(key)`, the redemption id being the vendor's idempotency key, so
  asking again after a crash answers the same order, never a second code;
* RESERVED, the last answer PENDING or unknown (a timeout after sending): ask
  `status(key)` first. ISSUED commits; FAILED compensates; PENDING waits; no order at
  all is asked for again with the same key (attempts left) or compensated.

Outcomes: ISSUED (commit), a definitive refusal or FAILED order (compensate), PENDING or
an unknown outcome (wait: the sweeper asks again every REWARD_VENDOR_POLL_S), not
accepted (`RewardVendorUnavailableError`, retried from the queue). A code is never
issued twice and an issued code is never refunded automatically: the saga compensates
only on the vendor's own word that there is no code.

`sweep()` (the cycle's reconcile tick) resumes sagas idle past REWARD_SAGA_TIMEOUT_S
(a lost or dead-lettered message, a crashed worker) and re-asks the vendor about
PENDING / unknown orders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from myapi.audit.repository import AuditRepository
from myapi.core.clock import Clock
from myapi.core.config import Settings
from myapi.core.db import unit_of_work
from myapi.core.enums import RedemptionStatus
from myapi.core.errors import ServiceUnavailableError
from myapi.providers.rewards import (
    RewardVendor,
    VendorError,
    VendorOrder,
    VendorRejectedError,
    VendorTimeoutError,
    VendorUnavailableError,
)
from myapi.rewards.models import RewardRedemption
from myapi.rewards.repository import IN_FLIGHT, RewardsRepository
from myapi.rewards.service import (
    RedemptionNotFoundError,
    RedemptionStateError,
    RedemptionSteps,
    RedemptionView,
    RewardService,
    StepResult,
    attempts_span_timeout,
)

logger = logging.getLogger("myapi.rewards")

T = TypeVar("T")
SWEEP_BATCH = 100


class RewardVendorUnavailableError(ServiceUnavailableError):
    """The vendor did not accept the issue request: retried from the queue."""

    code = "REWARD_503"
    message = "The reward vendor is unavailable; the redemption will be retried"


class RedemptionSaga:
    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Clock,
        settings: Settings,
        vendors: Mapping[str, RewardVendor],
    ) -> None:
        self._factory = factory
        self._clock = clock
        self._settings = settings
        self._vendors = vendors

    # --- driving one saga ------------------------------------------------------------
    def advance(self, redemption_id: int) -> dict[str, Any]:
        """Take the redemption as far as it goes now; returns its state (never the code)."""
        r = self._read(redemption_id)
        if r.status == RedemptionStatus.REQUESTED:
            step = self._step(lambda s: s.hold(redemption_id))
            if step.status == RedemptionStatus.REQUESTED:
                step = self._step(lambda s: s.reserve(redemption_id))
            if step.status != RedemptionStatus.RESERVED or not step.changed:
                r = self._read(redemption_id)  # failed, or another process moved it on
            else:  # reserved just now: the vendor has not been asked (the copy is detached)
                r.status = RedemptionStatus.RESERVED
        if r.status == RedemptionStatus.RESERVED:
            self._vendor_step(r)
            r = self._read(redemption_id)
        return _details(r)

    def _vendor_step(self, r: RewardRedemption) -> None:
        vendor = self._vendors.get(r.vendor)
        if vendor is None:
            if r.vendor_requested_at is None:  # never sent anywhere: nothing to resolve
                self._compensate(r.id, f"vendor {r.vendor!r} is not configured")
                return
            raise RewardVendorUnavailableError(
                f"vendor {r.vendor!r} of redemption {r.id} is not configured in this process"
            )
        key = str(r.vendor_key)
        if (
            r.vendor_state in ("PENDING", "UNKNOWN")
            or r.vendor_attempts >= self._settings.reward_vendor_max_attempts
        ):
            # The vendor may hold an order under the key: its word comes first.
            try:
                order = vendor.status(key)
            except VendorError as exc:
                logger.warning("redemption %s: vendor status unavailable: %s", r.id, exc)
                self._step(lambda s: s.record_vendor_state(r.id, r.vendor_state or "UNKNOWN"))
                return
            if order is not None:
                self._resolve(r.id, order)
                return
            if r.vendor_attempts >= self._settings.reward_vendor_max_attempts:
                if r.vendor_call_until is not None and r.vendor_call_until > self._clock.now():
                    return  # another process's call may still answer
                attempts = r.vendor_attempts
                if attempts_span_timeout(r, self._settings):
                    self._step(
                        lambda s: s.give_up(
                            r.id, f"the vendor has no order after {attempts} attempts", seen_attempts=attempts
                        )
                    )
                    return
                # Attempts used up within the timeout (a short outage): the vendor has no
                # order under the key, so asking again with it cannot make a second one.
        self._issue(vendor, r)

    def _issue(self, vendor: RewardVendor, r: RewardRedemption) -> None:
        asked = self._step(lambda s: s.begin_vendor_call(r.id))
        if asked is None:  # cancelled or finished meanwhile
            return
        key = str(r.vendor_key)
        try:
            order = vendor.issue(key, r.sku, f"user-{r.user_id}")
        except VendorRejectedError as exc:
            self._compensate(r.id, f"the vendor refused: {exc.reason}")
            return
        except VendorTimeoutError as exc:
            logger.warning("redemption %s: outcome unknown (%s); asking the vendor", r.id, exc)
            self._step(lambda s: s.record_vendor_state(r.id, "UNKNOWN"))
            try:
                found = vendor.status(key)
            except VendorError:
                return  # still unknown: the sweeper asks again
            if found is not None:
                self._resolve(r.id, found)
            return
        except VendorUnavailableError as exc:
            self._step(lambda s: s.record_vendor_state(r.id, "UNAVAILABLE"))
            raise RewardVendorUnavailableError(details={"redemption_id": r.id}) from exc
        self._resolve(r.id, order)

    def _resolve(self, redemption_id: int, order: VendorOrder) -> None:
        if order.status == "ISSUED" and order.code:
            code = order.code
            self._step(lambda s: s.commit(redemption_id, code))
        elif order.status == "FAILED":
            self._compensate(
                redemption_id, f"the vendor failed the order: {order.reason or 'no reason given'}"
            )
        else:
            self._step(lambda s: s.record_vendor_state(redemption_id, "PENDING"))

    def _compensate(self, redemption_id: int, reason: str) -> StepResult:
        return self._step(lambda s: s.compensate(redemption_id, RedemptionStatus.FAILED, reason))

    # --- the sweeper -----------------------------------------------------------------
    def due(self) -> list[int]:
        """Sagas the sweeper would take now (idle past the timeout, or a vendor answer
        due to be asked again)."""
        now = self._clock.now()
        with unit_of_work(self._factory) as session:
            due = RewardsRepository(session).due_for_sweep(
                idle_before=now - timedelta(seconds=self._settings.reward_saga_timeout_s),
                poll_before=now - timedelta(seconds=self._settings.reward_vendor_poll_s),
                limit=SWEEP_BATCH,
            )
            return [r.id for r in due]

    def sweep(self) -> dict[str, Any]:
        """Hand every due saga (at most SWEEP_BATCH a pass) back to the saga workers: a
        `reward.requested` event each, through the outbox, and the redemption marked
        seen so the next pass skips it until it is due again. The sweep itself never
        calls a vendor, so the reconcile tick stays short whatever the vendor does."""
        now = self._clock.now()
        with unit_of_work(self._factory) as session:
            ids = RedemptionSteps(session, self._clock, self._settings).requeue_due(
                idle_before=now - timedelta(seconds=self._settings.reward_saga_timeout_s),
                poll_before=now - timedelta(seconds=self._settings.reward_vendor_poll_s),
                limit=SWEEP_BATCH,
            )
        return {"requeued": len(ids), "redemption_ids": ids}

    # --- an operator's refund --------------------------------------------------------
    def refund(
        self, redemption_id: int, *, reason: str, admin_id: int, force: bool = False
    ) -> RedemptionView:
        """End a stuck redemption by hand (audited), after asking the vendor: an order
        the vendor reports ISSUED is committed instead (audited; REWARD_006, it is not
        refunded); see RewardService.refund for what else refuses it."""
        r = self._read(redemption_id)
        answer: str | None = None
        vendor = self._vendors.get(r.vendor)
        if r.status in IN_FLIGHT and r.vendor_requested_at is not None and vendor is not None:
            try:
                order = vendor.status(str(r.vendor_key))
            except VendorError as exc:
                answer = f"no answer: {type(exc).__name__}"
            else:
                answer = order.status if order is not None else "no order"
                if order is not None and order.status == "ISSUED":
                    self._resolve(r.id, order)
                    now = self._read(redemption_id).status
                    self._audit_refund(r.id, admin_id, reason, f"not refunded: the vendor issued it ({now})")
                    raise RedemptionStateError(
                        "The vendor issued this code: the redemption was completed, not refunded"
                        if now == RedemptionStatus.ISSUED
                        else "The redemption ended meanwhile",
                        details={"status": str(now), "vendor_answer": "ISSUED"},
                    )
        with unit_of_work(self._factory) as session:
            service = RewardService(session, self._clock, self._settings, self._vendors.keys())
            return service.refund(
                redemption_id, reason=reason, admin_id=admin_id, vendor_answer=answer,
                seen_attempts=r.vendor_attempts, force=force,
            )  # fmt: skip

    def _audit_refund(self, redemption_id: int, admin_id: int, reason: str, outcome: str) -> None:
        with unit_of_work(self._factory) as session:
            AuditRepository(session).record(
                actor=f"user:{admin_id}", actor_user_id=admin_id, action="rewards.redemption.refund",
                target=f"redemption:{redemption_id}", payload={"reason": reason, "outcome": outcome},
                now=self._clock.now(),
            )  # fmt: skip

    # --- units of work ---------------------------------------------------------------
    def _step(self, work: Callable[[RedemptionSteps], T]) -> T:
        with unit_of_work(self._factory) as session:
            return work(RedemptionSteps(session, self._clock, self._settings))

    def _read(self, redemption_id: int) -> RewardRedemption:
        with unit_of_work(self._factory) as session:
            r = RewardsRepository(session).get(redemption_id)
            if r is None:
                raise RedemptionNotFoundError(details={"redemption_id": redemption_id})
            session.expunge(r)
            return r


def _details(r: RewardRedemption) -> dict[str, Any]:
    return {
        "redemption_id": r.id,
        "status": str(r.status),
        "vendor_state": r.vendor_state,
        "vendor_attempts": r.vendor_attempts,
        "reason": r.failure_reason,
    }
