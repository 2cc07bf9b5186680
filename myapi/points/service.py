"""The points ledger: the one function every point change goes through (SPEC §5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from myapi.core.clock import Clock
from myapi.core.enums import HoldStatus
from myapi.core.errors import AppError, ConflictError
from myapi.points.models import PointsHold, PointsLedgerEntry
from myapi.points.repository import PointsRepository


class InsufficientPointsError(AppError):
    status_code = 409
    code = "POINT_001"
    message = "Not enough points"


class HoldSettledError(ConflictError):
    """A hold that was already committed cannot be voided, nor a voided one committed."""

    code = "POINT_002"
    message = "The hold is already settled the other way"


@dataclass(frozen=True)
class Available:
    balance: int
    held: int

    @property
    def available(self) -> int:
        return self.balance - self.held


@dataclass(frozen=True)
class LedgerResult:
    entry_id: int
    user_id: int
    delta: int
    balance_after: int
    created: bool  # False: the ref was already applied; this is the original entry


class PointsLedger:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._repo = PointsRepository(session)
        self._clock = clock

    def apply(
        self,
        *,
        user_id: int,
        delta: int,
        reason: str,
        ref_type: str,
        ref_id: str,
        trading_day: date | None = None,
        symbol: str | None = None,
        releasing_hold: tuple[str, str] | None = None,
    ) -> LedgerResult:
        """Apply one point change in the caller's transaction.

        Rules: the user's balance row is locked first, so changes for one user are
        serialised; a (ref_type, ref_id) that was already applied is a no-op that returns
        the original entry (retries and duplicate deliveries are safe); the balance never
        goes negative, nor below the points in open holds (POINT_001); the entry records
        balance_after. `releasing_hold` is the (ref_type, ref_id) of a hold this debit
        commits: its points are not counted as held (commit_hold passes it).
        """
        if delta == 0:
            raise ValueError("a ledger entry needs a non-zero delta")
        balance = self._repo.lock_balance(user_id)
        existing = self._repo.find_by_ref(ref_type, ref_id)
        if existing is not None:
            return LedgerResult(
                existing.id, existing.user_id, existing.delta_points, existing.balance_after, False
            )
        new_balance = balance + delta
        held = self._repo.held(user_id, except_ref=releasing_hold) if delta < 0 else 0
        if new_balance < held:
            raise InsufficientPointsError(details={"balance": balance, "held": held, "required": -delta})
        now = self._clock.now()
        entry = self._repo.append_entry(
            user_id=user_id,
            delta=delta,
            balance_after=new_balance,
            reason=reason,
            ref_type=ref_type,
            ref_id=ref_id,
            trading_day=trading_day,
            symbol=symbol,
            now=now,
        )
        self._repo.set_balance(user_id, new_balance, now)
        return LedgerResult(entry.id, user_id, delta, new_balance, True)

    def balance(self, user_id: int) -> int:
        return self._repo.balance_of(user_id)

    def available(self, user_id: int, *, lock: bool = False) -> Available:
        """The balance and the points in open holds; `lock` takes the balance row lock
        first (every point change for the user waits for the caller's commit)."""
        balance = self._repo.lock_balance(user_id) if lock else self._repo.balance_of(user_id)
        return Available(balance, self._repo.held(user_id))

    # --- two-phase transfers (TigerBeetle's pending -> post / void, with a timeout) -----
    def hold(
        self, *, user_id: int, amount: int, ref_type: str, ref_id: str, expires_at: datetime
    ) -> PointsHold:
        """Reserve `amount` points without moving them (an OPEN hold), if the balance
        less the points already held covers it (POINT_001). Idempotent on the ref: the
        hold already placed under it is returned, whatever its status."""
        if amount <= 0:
            raise ValueError("a hold needs a positive amount")
        balance = self._repo.lock_balance(user_id)
        existing = self._repo.lock_hold(ref_type, ref_id)
        if existing is not None:
            return existing
        held = self._repo.held(user_id)
        if balance - held < amount:
            raise InsufficientPointsError(details={"balance": balance, "held": held, "required": amount})
        return self._repo.add_hold(
            user_id=user_id, amount=amount, ref_type=ref_type, ref_id=ref_id,
            expires_at=expires_at, now=self._clock.now(),
        )  # fmt: skip

    def commit_hold(self, ref_type: str, ref_id: str, *, reason: str) -> LedgerResult:
        """Post an OPEN hold: the debit of its amount lands in the ledger under the same
        ref and the hold is COMMITTED, in the caller's transaction. Committing twice
        returns the one entry; a voided hold cannot be committed (POINT_002)."""
        hold = self._repo.lock_hold(ref_type, ref_id)
        if hold is None:
            raise LookupError(f"no hold {ref_type}:{ref_id}")
        if hold.status == HoldStatus.CANCELLED:
            raise HoldSettledError(details={"ref": f"{ref_type}:{ref_id}", "status": str(hold.status)})
        result = self.apply(
            user_id=hold.user_id, delta=-hold.amount, reason=reason, ref_type=ref_type, ref_id=ref_id,
            releasing_hold=(ref_type, ref_id),
        )  # fmt: skip
        self._settle_hold(hold, HoldStatus.COMMITTED)
        return result

    def void_hold(self, ref_type: str, ref_id: str) -> bool:
        """Void an OPEN hold (the points are free again). False when there is no hold
        under the ref; voiding twice is a no-op; a committed hold cannot be voided
        (POINT_002: its debit is reversed by a ledger entry, never by the hold)."""
        hold = self._repo.lock_hold(ref_type, ref_id)
        if hold is None:
            return False
        if hold.status == HoldStatus.COMMITTED:
            raise HoldSettledError(details={"ref": f"{ref_type}:{ref_id}", "status": str(hold.status)})
        self._settle_hold(hold, HoldStatus.CANCELLED)
        return True

    def _settle_hold(self, hold: PointsHold, status: HoldStatus) -> None:
        if hold.status != status:
            hold.status = status
            hold.updated_at = self._clock.now()

    def ledger(self, user_id: int, limit: int, offset: int) -> tuple[list[PointsLedgerEntry], int]:
        return self._repo.ledger_page(user_id, limit, offset)
