"""The points ledger: the one function every point change goes through (SPEC §5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from myapi.core.clock import Clock
from myapi.core.errors import AppError
from myapi.points.models import PointsLedgerEntry
from myapi.points.repository import PointsRepository


class InsufficientPointsError(AppError):
    status_code = 409
    code = "POINT_001"
    message = "Not enough points"


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
    ) -> LedgerResult:
        """Apply one point change in the caller's transaction.

        Rules: the user's balance row is locked first, so changes for one user are
        serialised; a (ref_type, ref_id) that was already applied is a no-op that returns
        the original entry (retries and duplicate deliveries are safe); the balance never
        goes negative (POINT_001); the entry records balance_after.
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
        if new_balance < 0:
            raise InsufficientPointsError(details={"balance": balance, "required": -delta})
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

    def ledger(self, user_id: int, limit: int, offset: int) -> tuple[list[PointsLedgerEntry], int]:
        return self._repo.ledger_page(user_id, limit, offset)
