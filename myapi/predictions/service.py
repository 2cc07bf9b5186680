"""Predictions: submit, change, cancel, read (SPEC §5). The hot path of the product:
one transaction, a handful of statements, no outside network call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from myapi.core.clock import Clock, to_kst
from myapi.core.config import Settings
from myapi.core.enums import Choice, Phase, PredictionStatus
from myapi.core.errors import AppError, NotFoundError
from myapi.cycle.calendar import MarketCalendar
from myapi.cycle.repository import SessionsRepository
from myapi.cycle.service import is_open_for_predictions
from myapi.events.catalogue import (
    PredictionCancelled,
    PredictionChanged,
    PredictionSubmitted,
    Topic,
    emit,
)
from myapi.predictions.models import Prediction
from myapi.predictions.repository import PredictionsRepository
from myapi.predictions.schemas import BadgeOut, StatsOut, SymbolStatsOut
from myapi.slots.service import SlotService


class PredictionsClosedError(AppError):
    status_code = 409
    code = "PRED_001"
    message = "Predictions are not open (before the session opens or after the cutoff)"


class NotInUniverseError(AppError):
    status_code = 404
    code = "PRED_004"
    message = "This symbol is not in today's universe"


class NoBaselineError(AppError):
    status_code = 409
    code = "PRED_006"
    message = "This symbol has no baseline price yet (a prediction could not be judged); retry shortly"


class DuplicatePredictionError(AppError):
    status_code = 409
    code = "PRED_005"
    message = "You already predicted this symbol today"


class PredictionNotFoundError(NotFoundError):
    code = "PRED_404"
    message = "You have no open prediction for this symbol today"


def _require_open(day: date, phase: Phase | None, predict_cutoff_at: datetime | None, now: datetime) -> None:
    """PRED_001 unless the day's session accepts predictions now."""
    if not is_open_for_predictions(phase, predict_cutoff_at, now):
        details: dict[str, object] = {"trading_day": day.isoformat()}
        if predict_cutoff_at is not None:
            details["predict_cutoff_at"] = to_kst(predict_cutoff_at).isoformat()
        raise PredictionsClosedError(details=details)


@dataclass(frozen=True)
class Accepted:
    prediction_id: int
    trading_day: date
    symbol: str
    choice: Choice
    submitted_at: datetime
    remaining_slots: int


def _rate(correct: int, incorrect: int) -> float | None:
    decided = correct + incorrect
    return round(correct / decided, 4) if decided else None


@dataclass(frozen=True)
class Badge:
    code: str
    title: str
    description: str
    earned: Callable[[StatsOut], bool]


# Earned from a player's record, so they can never drift from it; a badge is kept as
# long as the record shows it (records only grow).
BADGES: tuple[Badge, ...] = (
    Badge("FIRST_WIN", "First win", "A prediction settled correct", lambda s: s.correct >= 1),
    Badge("FIVE_IN_A_ROW", "Hot streak", "5 correct predictions in a row", lambda s: s.best_streak >= 5),
    Badge("TEN_IN_A_ROW", "On fire", "10 correct predictions in a row", lambda s: s.best_streak >= 10),
    Badge("CENTURY", "Centurion", "100 predictions made", lambda s: s.total >= 100),
    Badge(
        "SHARPSHOOTER",
        "Sharpshooter",
        "A win rate of 60% or more over 20 decided predictions",
        lambda s: s.correct + s.incorrect >= 20 and (s.win_rate or 0) >= 0.6,
    ),
)


class PredictionService:
    def __init__(self, session: Session, clock: Clock, settings: Settings, calendar: MarketCalendar) -> None:
        self._session = session
        self._clock = clock
        self._settings = settings
        self._calendar = calendar
        self._repo = PredictionsRepository(session)

    def _slots(self) -> SlotService:
        return SlotService(self._session, self._clock, self._settings, self._calendar)

    def _open_day(self, now: datetime) -> date:
        """Today's trading day, if it accepts predictions now; else PRED_001."""
        day = self._calendar.trading_day_for(now)
        row = SessionsRepository(self._session).get(day)
        if row is None:
            _require_open(day, None, None, now)
        else:
            _require_open(day, row.phase, row.predict_cutoff_at, now)
        return day

    def submit(self, user_id: int, symbol: str, choice: Choice) -> Accepted:
        """Predict UP/DOWN on `symbol` for the current trading day.

        Rules: the session is in PREDICT and now < cutoff (PRED_001, judged by the
        clock even if the phase flip has not run); the symbol is in the day's universe
        (PRED_004) and has a baseline (PRED_006: a prediction without one could only
        be VOID); one prediction per (day, player, symbol) (PRED_005, enforced by the
        unique key so concurrent duplicates cannot both pass); a free slot (PRED_003
        when none is: the cooldown always runs then; under the player's row lock so
        concurrent submits never exceed it).
        The prediction keeps the symbol's baseline. The insert, the slot and the
        `prediction.submitted` outbox event commit together or not at all.
        """
        now = self._clock.now()
        day = self._calendar.trading_day_for(now)
        context = self._repo.submission_context(day, symbol)
        _require_open(day, context.phase, context.predict_cutoff_at, now)
        if not context.listed:
            raise NotInUniverseError(details={"symbol": symbol, "trading_day": day.isoformat()})
        if context.baseline_price is None:
            raise NoBaselineError(details={"symbol": symbol, "trading_day": day.isoformat()})
        prediction_id = self._repo.insert_or_revive(
            trading_day=day,
            user_id=user_id,
            symbol=symbol,
            choice=choice,
            baseline_price=context.baseline_price,
            baseline_at=context.baseline_at,
            now=now,
        )
        if prediction_id is None:
            raise DuplicatePredictionError(details={"symbol": symbol})
        slots = self._slots().consume(user_id, day)
        emit(
            self._session,
            PredictionSubmitted(
                prediction_id=prediction_id,
                user_id=user_id,
                trading_day=day,
                symbol=symbol,
                choice=choice,
                submitted_at=now,
            ),
            Topic.PREDICTION_SUBMITTED,
            now=now,
            group_id=f"user-{user_id}",
            dedup_id=f"prediction-{prediction_id}-submitted-{int(now.timestamp() * 1000)}",
        )
        return Accepted(prediction_id, day, symbol, choice, now, slots.available)

    def change(self, user_id: int, symbol: str, choice: Choice) -> Prediction:
        """Switch UP/DOWN while the session is open; costs no slot. The prediction takes
        the symbol's current baseline (the price of the moment of the change)."""
        now = self._clock.now()
        day = self._open_day(now)
        prediction = self._repo.get_live(day, user_id, symbol)
        if prediction is None:
            raise PredictionNotFoundError(details={"symbol": symbol})
        if prediction.choice != choice:
            baseline = self._repo.set_choice(prediction.id, choice, now)
            if baseline is None:
                raise NoBaselineError(details={"symbol": symbol, "trading_day": day.isoformat()})
            prediction.choice = choice
            prediction.updated_at = now
            prediction.baseline_price, prediction.baseline_at = baseline
            emit(
                self._session,
                PredictionChanged(prediction_id=prediction.id, user_id=user_id, choice=choice),
                Topic.PREDICTION_CHANGED,
                now=now,
                group_id=f"user-{user_id}",
                dedup_id=f"prediction-{prediction.id}-changed-{int(now.timestamp() * 1000)}",
            )
        return prediction

    def cancel(self, user_id: int, symbol: str) -> int:
        """Withdraw a prediction while the session is open; its slot is refunded.
        Returns the slots now available."""
        now = self._clock.now()
        day = self._open_day(now)
        prediction = self._repo.get_live(day, user_id, symbol)
        if prediction is None:
            raise PredictionNotFoundError(details={"symbol": symbol})
        self._repo.cancel(prediction.id, now)
        slots = self._slots().refund(user_id, day)
        emit(
            self._session,
            PredictionCancelled(prediction_id=prediction.id, user_id=user_id),
            Topic.PREDICTION_CANCELLED,
            now=now,
            group_id=f"user-{user_id}",
            dedup_id=f"prediction-{prediction.id}-cancelled-{int(now.timestamp() * 1000)}",
        )
        return slots.available

    def mine(self, user_id: int, trading_day: date | None) -> tuple[date, list[Prediction]]:
        day = trading_day or self._calendar.trading_day_for(self._clock.now())
        return day, self._repo.for_day(user_id, day)

    def history(
        self, user_id: int, limit: int, offset: int, status: PredictionStatus | None = None
    ) -> tuple[list[Prediction], int]:
        return self._repo.history(user_id, limit, offset, status)

    def stats(self, user_id: int) -> StatsOut:
        """Totals by outcome, streaks, the win rate overall and per symbol, and the
        badges earned (BADGES). A win rate is correct / (correct + incorrect), None
        before any prediction was decided (VOID and cancelled ones do not count)."""
        counts = self._repo.stats(user_id)
        by_symbol = [
            SymbolStatsOut(symbol=symbol, correct=won, incorrect=lost, void=void, win_rate=_rate(won, lost))
            for symbol, won, lost, void in self._repo.stats_by_symbol(user_id)
        ]
        stats = StatsOut.model_validate(
            {**counts, "win_rate": _rate(counts["correct"], counts["incorrect"]), "by_symbol": by_symbol}
        )
        stats.badges = [
            BadgeOut(code=b.code, title=b.title, description=b.description) for b in BADGES if b.earned(stats)
        ]
        return stats
