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
from myapi.cycle.repository import SessionsRepository
from myapi.cycle.service import is_open_for_predictions
from myapi.slots import policy
from myapi.slots.models import AdUnlock
from myapi.slots.policy import SlotRules, SlotState
from myapi.slots.repository import DailySlotsRow, SlotsRepository
from myapi.slots.schemas import SlotStatusOut


class NoSlotError(AppError):
    """No slot free and no cooldown pending. With base >= 1 (the settings enforce it) a
    cooldown always runs while fewer than `base` slots are available, so this is not
    expected; the code stays defined (docs/api.md) rather than failing with a 500."""

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


class AdsClosedError(AppError):
    status_code = 409
    code = "AD_005"
    message = "No ad unlock now: the session does not accept predictions (not open, or past the cutoff)"


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
        self._sessions = SessionsRepository(session)
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

    def _status(self, day: date, state: SlotState, *, session_open: bool) -> SlotStatusOut:
        return SlotStatusOut(
            trading_day=day,
            base=state.base,
            used=state.used,
            ad_unlocks_used=state.ad_unlocks,
            ad_unlocks_max=self.rules.max_ad,
            cooldown_unlocks=state.cooldown_unlocks,
            capacity=state.capacity,
            available=state.available,
            cooldown_until=state.cooldown_until(self.rules),
            can_unlock=session_open and policy.ad_unlocks_left(state, self.rules),
        )

    def _closed_details(self, day: date, now: datetime) -> dict[str, object] | None:
        """None when the day's session accepts predictions now; else why not (AD_005's
        details: the same judgement, by the clock, as PRED_001)."""
        row = self._sessions.get(day)
        if row is not None and is_open_for_predictions(row.phase, row.predict_cutoff_at, now):
            return None
        details: dict[str, object] = {"trading_day": day.isoformat(), "phase": None}
        if row is None:
            details["reason"] = "NO_SESSION"
            return details
        details["phase"] = row.phase.value
        details["predict_cutoff_at"] = to_kst(row.predict_cutoff_at).isoformat()
        details["reason"] = "PAST_CUTOFF" if now >= row.predict_cutoff_at else "NOT_PREDICT_PHASE"
        return details

    def today(self) -> date:
        """The trading day whose slots a request made now uses."""
        return self._calendar.trading_day_for(self._clock.now())

    def status(self, user_id: int, day: date | None = None) -> SlotStatusOut:
        """Read-only (default: today's): recoveries due by now are counted, not written.
        `can_unlock` also asks the day's session (an ad is refused once it is closed)."""
        now = self._clock.now()
        day = day or self._calendar.trading_day_for(now)
        state, _ = policy.recover(self._state(self._repo.get(user_id, day)), self.rules, now)
        return self._status(day, state, session_open=self._closed_details(day, now) is None)

    # --- changes (each in the caller's transaction, under the row lock) ---------
    # `consume` and `refund` are called by PredictionService right after it checked that
    # the day's session accepts predictions (PRED_001 otherwise), so `session_open`
    # (which only feeds `can_unlock` in the returned status) defaults to True rather than
    # costing the submit path another query.
    def consume(self, user_id: int, day: date, *, session_open: bool = True) -> SlotStatusOut:
        """Take one slot for a prediction. PRED_003 when none is free: fewer than `base`
        are then available, so the cooldown runs and the details say when it gives one
        back. (PRED_002 would mean none free and no cooldown pending: not expected.)"""
        now = self._clock.now()
        state = self._locked_state(user_id, day, now)
        if state.available <= 0:
            until = state.cooldown_until(self.rules)
            if until is not None:
                raise CooldownActiveError(details={"cooldown_until": to_kst(until).isoformat()})
            raise NoSlotError(details={"capacity": state.capacity})
        state = policy.consume(state, now)
        self._save(user_id, day, state, now)
        return self._status(day, state, session_open=session_open)

    def refund(self, user_id: int, day: date, *, session_open: bool = True) -> SlotStatusOut:
        now = self._clock.now()
        state = policy.refund(self._locked_state(user_id, day, now), now)
        self._save(user_id, day, state, now)
        return self._status(day, state, session_open=session_open)

    def unlock_by_ad(self, user_id: int, receipt: AdReceipt, day: date | None = None) -> SlotStatusOut:
        """Verify the ad network's receipt and add one slot. Checked in this order, the
        first that fails answers and nothing is unlocked: forged (AD_001: bad signature
        or another player's receipt), stale (AD_002: outside the time window), closed
        (AD_005: the day's session does not accept predictions now, so the slot could
        not be used; judged before the nonce is claimed, so the receipt is not burnt),
        replayed (AD_003: nonce seen before), over the daily ad limit (AD_004)."""
        expected = sign_receipt(
            self._settings.ad_callback_secret, receipt.user_id, receipt.nonce, receipt.issued_at
        )
        if not hmac.compare_digest(expected, receipt.signature.lower()) or receipt.user_id != user_id:
            raise ForgedReceiptError()
        now = self._clock.now()
        if abs(now.timestamp() - receipt.issued_at) > self._settings.ad_receipt_max_age_s:
            raise StaleReceiptError()
        day = day or self._calendar.trading_day_for(now)
        closed = self._closed_details(day, now)
        if closed is not None:
            raise AdsClosedError(details=closed)
        state = self._locked_state(user_id, day, now)
        # The nonce is claimed before the limit is checked so a replay is reported as
        # such; if the limit then refuses, the rollback releases the nonce again.
        if not self._repo.record_unlock(
            user_id=user_id, trading_day=day, method="AD", slots=1, nonce=receipt.nonce, now=now
        ):
            raise ReplayedReceiptError()
        if not policy.ad_unlocks_left(state, self.rules):
            raise AdLimitError(details={"ad_unlocks_used": state.ad_unlocks})
        state = policy.add_ad_unlock(state, now)
        self._save(user_id, day, state, now)
        return self._status(day, state, session_open=True)

    def dev_receipt(self, user_id: int) -> AdReceipt:
        """Development helper: what the ad network would send after a completed view."""
        nonce = secrets.token_urlsafe(16)
        issued_at = int(self._clock.now().timestamp())
        signature = sign_receipt(self._settings.ad_callback_secret, user_id, nonce, issued_at)
        return AdReceipt(user_id, nonce, issued_at, signature)

    def history(self, user_id: int, limit: int, offset: int) -> tuple[list[AdUnlock], int]:
        return self._repo.history(user_id, limit, offset)
