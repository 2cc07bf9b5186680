"""SQL for predictions. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.orm import Session

from myapi.core.enums import Choice, Phase, PredictionStatus
from myapi.predictions.models import Prediction

# The submit path's statements are constants: no statement building or ORM entity per
# request (the hot path of the product).
_SUBMISSION_CONTEXT = text(
    """
    SELECT s.phase, s.predict_cutoff_at, u.symbol IS NOT NULL AS listed, u.baseline_price, u.baseline_at
    FROM crypto.session_control s
    LEFT JOIN crypto.active_universe u ON u.trading_day = s.trading_day AND u.symbol = :symbol
    WHERE s.trading_day = :day
    """
)
_INSERT_OR_REVIVE = text(
    """
    INSERT INTO crypto.predictions AS p
        (trading_day, user_id, symbol, choice, status, baseline_price, baseline_at, submitted_at, updated_at)
    VALUES (:day, :user_id, :symbol, CAST(:choice AS crypto.choice), 'PENDING', :baseline_price,
            :baseline_at, :now, :now)
    ON CONFLICT (trading_day, user_id, symbol) DO UPDATE SET
        choice = EXCLUDED.choice, status = 'PENDING', baseline_price = EXCLUDED.baseline_price,
        baseline_at = EXCLUDED.baseline_at, submitted_at = EXCLUDED.submitted_at,
        updated_at = EXCLUDED.updated_at
    WHERE p.status = 'CANCELLED'
    RETURNING p.id
    """
)


_CHANGE = text(
    """
    UPDATE crypto.predictions p SET
        choice = CAST(:choice AS crypto.choice), updated_at = :now,
        baseline_price = u.baseline_price, baseline_at = u.baseline_at
    FROM crypto.active_universe u
    WHERE p.id = :id AND u.trading_day = p.trading_day AND u.symbol = p.symbol
      AND u.baseline_price IS NOT NULL
    RETURNING p.baseline_price, p.baseline_at
    """
)


@dataclass(frozen=True)
class SubmissionContext:
    """The session (None when the day has none) and the symbol's universe entry."""

    phase: Phase | None
    predict_cutoff_at: datetime | None
    listed: bool
    baseline_price: Decimal | None
    baseline_at: datetime | None


class PredictionsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def submission_context(self, trading_day: date, symbol: str) -> SubmissionContext:
        """What a submit needs to know, in one round trip: the day's session (phase,
        cutoff) and the symbol's universe entry with its baseline."""
        row = self.session.execute(_SUBMISSION_CONTEXT, {"day": trading_day, "symbol": symbol}).first()
        if row is None:
            return SubmissionContext(None, None, False, None, None)
        return SubmissionContext(
            Phase(row.phase), row.predict_cutoff_at, bool(row.listed), row.baseline_price, row.baseline_at
        )

    def insert_or_revive(
        self,
        *,
        trading_day: date,
        user_id: int,
        symbol: str,
        choice: Choice,
        baseline_price: Decimal | None,
        baseline_at: datetime | None,
        now: datetime,
    ) -> int | None:
        """Insert the prediction, or bring back one the player cancelled earlier today.
        None when a live prediction for (day, user, symbol) exists already — one
        statement, so concurrent duplicates cannot both succeed."""
        return self.session.execute(
            _INSERT_OR_REVIVE,
            {
                "day": trading_day,
                "user_id": user_id,
                "symbol": symbol,
                "choice": choice.value,
                "baseline_price": baseline_price,
                "baseline_at": baseline_at,
                "now": now,
            },
        ).scalar_one_or_none()

    def get_live(self, trading_day: date, user_id: int, symbol: str) -> Prediction | None:
        """The player's PENDING prediction, locked for a change or a cancel."""
        stmt = (
            select(Prediction)
            .where(
                Prediction.trading_day == trading_day,
                Prediction.user_id == user_id,
                Prediction.symbol == symbol,
                Prediction.status == PredictionStatus.PENDING,
            )
            .with_for_update()
        )
        return self.session.scalars(stmt).one_or_none()

    def set_choice(
        self, prediction_id: int, choice: Choice, now: datetime
    ) -> tuple[Decimal, datetime] | None:
        """Change the choice and take the symbol's current baseline with it: a changed
        prediction is judged against the price of the moment it was changed, like a new
        one (so a player cannot keep an old baseline that the market has since left).
        Returns the new (baseline_price, baseline_at); None if the symbol has none."""
        row = self.session.execute(_CHANGE, {"id": prediction_id, "choice": choice.value, "now": now}).first()
        return None if row is None else (row.baseline_price, row.baseline_at)

    def cancel(self, prediction_id: int, now: datetime) -> None:
        self.session.execute(
            update(Prediction)
            .where(Prediction.id == prediction_id)
            .values(status=PredictionStatus.CANCELLED, updated_at=now)
        )

    def for_day(self, user_id: int, trading_day: date) -> list[Prediction]:
        stmt = (
            select(Prediction)
            .where(
                Prediction.user_id == user_id,
                Prediction.trading_day == trading_day,
                Prediction.status != PredictionStatus.CANCELLED,
            )
            .order_by(Prediction.submitted_at, Prediction.id)
        )
        return list(self.session.scalars(stmt))

    def history(
        self, user_id: int, limit: int, offset: int, status: PredictionStatus | None
    ) -> tuple[list[Prediction], int]:
        conditions = [Prediction.user_id == user_id, Prediction.status != PredictionStatus.CANCELLED]
        if status is not None:
            conditions.append(Prediction.status == status)
        where = and_(*conditions)
        total = int(self.session.scalar(select(func.count()).select_from(Prediction).where(where)) or 0)
        rows = self.session.scalars(
            select(Prediction)
            .where(where)
            .order_by(Prediction.trading_day.desc(), Prediction.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(rows), total

    def stats(self, user_id: int) -> dict[str, int]:
        """Totals, and streaks of consecutive CORRECT settled predictions (VOID ignored),
        newest first for the current streak (gaps-and-islands for the best)."""
        row = self.session.execute(
            text(
                """
                WITH settled AS (
                    SELECT status,
                           row_number() OVER (ORDER BY trading_day DESC, id DESC) AS rn,
                           sum(CASE WHEN status = 'INCORRECT' THEN 1 ELSE 0 END)
                               OVER (ORDER BY trading_day DESC, id DESC) AS misses_before
                    FROM crypto.predictions
                    WHERE user_id = :u AND status IN ('CORRECT', 'INCORRECT')
                ), runs AS (
                    SELECT misses_before, count(*) AS run
                    FROM settled WHERE status = 'CORRECT' GROUP BY misses_before
                )
                SELECT
                    (SELECT count(*) FROM crypto.predictions
                      WHERE user_id = :u AND status <> 'CANCELLED') AS total,
                    (SELECT count(*) FROM crypto.predictions
                      WHERE user_id = :u AND status = 'PENDING') AS pending,
                    (SELECT count(*) FROM settled WHERE status = 'CORRECT') AS correct,
                    (SELECT count(*) FROM settled WHERE status = 'INCORRECT') AS incorrect,
                    (SELECT count(*) FROM crypto.predictions
                      WHERE user_id = :u AND status = 'VOID') AS void,
                    COALESCE((SELECT run FROM runs WHERE misses_before = 0), 0) AS current_streak,
                    COALESCE((SELECT max(run) FROM runs), 0) AS best_streak,
                    (SELECT COALESCE(sum(points_awarded), 0) FROM crypto.predictions
                      WHERE user_id = :u) AS points_won
                """
            ),
            {"u": user_id},
        ).one()
        return {key: int(value) for key, value in row._mapping.items()}

    def stats_by_symbol(self, user_id: int) -> list[tuple[str, int, int, int]]:
        """(symbol, correct, incorrect, void) of the user's settled predictions."""
        rows = self.session.execute(
            text(
                """
                SELECT symbol, count(*) FILTER (WHERE status = 'CORRECT'),
                       count(*) FILTER (WHERE status = 'INCORRECT'), count(*) FILTER (WHERE status = 'VOID')
                FROM crypto.predictions
                WHERE user_id = :u AND status IN ('CORRECT', 'INCORRECT', 'VOID')
                GROUP BY symbol ORDER BY symbol
                """
            ),
            {"u": user_id},
        )
        return [(str(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def symbols_with_predictions(self, trading_day: date, symbols: Sequence[str]) -> list[str]:
        """Of `symbols`, those with a live (not cancelled) prediction on the day."""
        if not symbols:
            return []
        stmt = (
            select(Prediction.symbol)
            .where(
                Prediction.trading_day == trading_day,
                Prediction.symbol.in_(symbols),
                Prediction.status != PredictionStatus.CANCELLED,
            )
            .distinct()
            .order_by(Prediction.symbol)
        )
        return list(self.session.scalars(stmt))

    def delete_cancelled(self, trading_day: date, symbols: Sequence[str]) -> int:
        """Delete the day's cancelled predictions of `symbols` (their slots were refunded
        when they were cancelled), so the symbols can leave the universe."""
        if not symbols:
            return 0
        result = self.session.execute(
            delete(Prediction).where(
                Prediction.trading_day == trading_day,
                Prediction.symbol.in_(symbols),
                Prediction.status == PredictionStatus.CANCELLED,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)
