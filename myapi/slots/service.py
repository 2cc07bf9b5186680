"""Slots, ads and cooldown (SPEC §5): the accounting behind every prediction."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from myapi.core.clock import Clock, to_kst
from myapi.core.config import Settings
from myapi.core.errors import AppError
from myapi.cycle.calendar import MarketCalendar
from myapi.slots import policy
from myapi.slots.models import AdUnlock
from myapi.slots.policy import SlotRules, SlotState
from myapi.slots.repository import DailySlotsRow, SlotsRepository
from myapi.slots.schemas import SlotStatusOut


class NoSlotError(AppError):
    status_code = 409
    code = "PRED_002"
    message = "No prediction slot left today"


class CooldownActiveError(AppError):
    status_code = 409
    code = "PRED_003"
    message = "No slot available; the cooldown gives one back soon"


class ForgedReceiptError(AppError):
    status_code = 400
    code = "AD_001"
    message = "The ad receipt signature is invalid"


class StaleReceiptError(AppError):
    status_code = 400
    code = "AD_002"
    message = "The ad receipt is too old (or from the future)"


class ReplayedReceiptError(AppError):
    status_code = 409
    code = "AD_003"
    message = "This ad receipt was already used"


class AdLimitError(AppError):
    status_code = 409
    code = "AD_004"
    message = "No more ad unlocks today"


@dataclass(frozen=True)
class AdReceipt:
    """What the ad network's server-side callback signs for one completed ad view."""

    user_id: int
    nonce: str
    issued_at: int  # unix seconds
    signature: str  # hex HMAC-SHA256 over `message()` with AD_CALLBACK_SECRET

    def message(self) -> bytes:
        return f"{self.user_id}:{self.nonce}:{self.issued_at}".encode()


def sign_receipt(secret: str, user_id: int, nonce: str, issued_at: int) -> str:
    return hmac.new(secret.encode(), f"{user_id}:{nonce}:{issued_at}".encode(), hashlib.sha256).hexdigest()


class SlotService:
    def __init__(self, session: Session, clock: Clock, settings: Settings, calendar: MarketCalendar) -> None:
        self._clock = clock
        self._settings = settings
        self._calendar = calendar
        self._repo = SlotsRepository(session)
        self.rules = SlotRules(
            base=settings.base_prediction_slots,
            max_ad=settings.max_ad_slots,
            cooldown=timedelta(minutes=settings.cooldown_minutes),
        )

    # --- state -------------------------------------------------------------------
    def _state(self, row: DailySlotsRow | None) -> SlotState:
        if row is None:
            return SlotState(self.rules.base, 0, 0, 0, None)
        return SlotState(
            base=row.base_slots,
            used=row.used_slots,
            ad_unlocks=row.ad_unlocks,
            cooldown_unlocks=row.cooldown_unlocks,
            cooldown_started_at=row.cooldown_started_at,
        )

    def _locked_state(self, user_id: int, day: date, now: datetime) -> SlotState:
        """Lock the row and materialise cooldown recoveries due by now."""
        row = self._repo.lock(user_id, day, self.rules.base)
        state, recovered = policy.recover(self._state(row), self.rules, now)
        if recovered:
            self._repo.record_unlock(
                user_id=user_id, trading_day=day, method="COOLDOWN", slots=recovered, nonce=None, now=now
            )
        return state

    def _save(self, user_id: int, day: date, state: SlotState, now: datetime) -> None:
        self._repo.save_state(user_id, day, state, state.cooldown_until(self.rules), now)

    def _status(self, day: date, state: SlotState) -> SlotStatusOut:
        return SlotStatusOut(
            trading_day=day,
            base=state.base,
            used=state.used,
            ad_unlocks_used=state.ad_unlocks,
            ad_unlocks_max=self.rules.max_ad,
            cooldown_unlocks=state.cooldown_unlocks,
            capacity=state.capacity(self.rules),
            available=state.available(self.rules),
            cooldown_until=state.cooldown_until(self.rules),
            can_unlock=policy.can_unlock_by_ad(state, self.rules),
        )

    def today(self) -> date:
        """The trading day whose slots a request made now uses."""
        return self._calendar.trading_day_for(self._clock.now())

    def status(self, user_id: int, day: date | None = None) -> SlotStatusOut:
        """Read-only (default: today's): recoveries due by now are counted, not written."""
        day = day or self.today()
        state, _ = policy.recover(self._state(self._repo.get(user_id, day)), self.rules, self._clock.now())
        return self._status(day, state)

    # --- changes (each in the caller's transaction, under the row lock) ---------
    def consume(self, user_id: int, day: date) -> SlotStatusOut:
        """Take one slot for a prediction. PRED_003 when none is free but the cooldown
        will give one back (details say when); PRED_002 when the day's maximum is used."""
        now = self._clock.now()
        state = self._locked_state(user_id, day, now)
        if state.available(self.rules) <= 0:
            until = state.cooldown_until(self.rules)
            if until is not None:
                raise CooldownActiveError(details={"cooldown_until": to_kst(until).isoformat()})
            raise NoSlotError(details={"capacity": state.capacity(self.rules)})
        state = policy.consume(state, self.rules, now)
        self._save(user_id, day, state, now)
        return self._status(day, state)

    def refund(self, user_id: int, day: date) -> SlotStatusOut:
        now = self._clock.now()
        state = policy.refund(self._locked_state(user_id, day, now), self.rules, now)
        self._save(user_id, day, state, now)
        return self._status(day, state)

    def unlock_by_ad(self, user_id: int, receipt: AdReceipt, day: date | None = None) -> SlotStatusOut:
        """Verify the ad network's receipt and add one slot. Forged (bad signature or
        another player's receipt), stale (outside the time window), replayed (nonce
        seen before) or over the daily cap: rejected, nothing unlocked."""
        expected = sign_receipt(
            self._settings.ad_callback_secret, receipt.user_id, receipt.nonce, receipt.issued_at
        )
        if not hmac.compare_digest(expected, receipt.signature.lower()) or receipt.user_id != user_id:
            raise ForgedReceiptError()
        now = self._clock.now()
        if abs(now.timestamp() - receipt.issued_at) > self._settings.ad_receipt_max_age_s:
            raise StaleReceiptError()
        day = day or self.today()
        state = self._locked_state(user_id, day, now)
        # The nonce is claimed first so a replay is reported as such; if the cap then
        # refuses, the rollback releases the nonce again.
        if not self._repo.record_unlock(
            user_id=user_id, trading_day=day, method="AD", slots=1, nonce=receipt.nonce, now=now
        ):
            raise ReplayedReceiptError()
        if not policy.can_unlock_by_ad(state, self.rules):
            raise AdLimitError(details={"ad_unlocks_used": state.ad_unlocks})
        state = policy.add_ad_unlock(state, self.rules, now)
        self._save(user_id, day, state, now)
        return self._status(day, state)

    def dev_receipt(self, user_id: int) -> AdReceipt:
        """Development helper: what the ad network would send after a completed view."""
        nonce = secrets.token_urlsafe(16)
        issued_at = int(self._clock.now().timestamp())
        signature = sign_receipt(self._settings.ad_callback_secret, user_id, nonce, issued_at)
        return AdReceipt(user_id, nonce, issued_at, signature)

    def history(self, user_id: int, limit: int, offset: int) -> tuple[list[AdUnlock], int]:
        return self._repo.history(user_id, limit, offset)
