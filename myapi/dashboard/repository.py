"""SQL of the operators' dashboard. Never commits.

Invariants:

* A `dashboard_days` row and its `dashboard_symbol_days` rows are written together, in
  one transaction under an advisory lock per day, from `count_days` — the very query
  that counts a day live — so a summarised day and a live one never differ.
* `count_days` reads only the given days: their predictions (through the trading_day
  indexes), their settlement ledger entries (`ix_points_ledger_trading_day`) and the
  other ledger entries of their game days (`ix_points_ledger_created_at_untied`, from
  the index alone). Nothing here scans all predictions or the whole ledger.
* Every other read is bounded by an index: the range's summary rows (primary keys),
  redemptions per status and updated_at, the last run per job (`ix_job_runs_job_id`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import Date, DateTime, String

_EPOCH = date(2000, 1, 1)  # the advisory lock's key for a day: its number of days since


@dataclass(frozen=True)
class GameDay:
    """A trading day and its game day: the instants whose "today" is that trading day."""

    trading_day: date
    start: datetime  # the previous session's close
    end: datetime  # this session's close


@dataclass(frozen=True)
class SymbolFigures:
    trading_day: date
    symbol: str
    predictions: int
    correct: int
    incorrect: int
    void: int


@dataclass(frozen=True)
class DayFigures:
    trading_day: date
    predictions: int
    participants: int
    dau: int
    correct: int
    incorrect: int
    void: int
    points_issued: int
    points_spent: int


@dataclass(frozen=True)
class JobLastRun:
    job: str
    id: int | None
    trading_day: date | None
    status: str | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None


_DAYS = bindparam("days", type_=ARRAY(Date()))
_STARTS = bindparam("starts", type_=ARRAY(DateTime(timezone=True)))
_ENDS = bindparam("ends", type_=ARRAY(DateTime(timezone=True)))

# Per symbol of each day: predictions not cancelled, and their outcomes so far.
_SYMBOLS = text(
    """
    SELECT trading_day, symbol,
           count(*) FILTER (WHERE status <> 'CANCELLED') AS predictions,
           count(*) FILTER (WHERE status = 'CORRECT') AS correct,
           count(*) FILTER (WHERE status = 'INCORRECT') AS incorrect,
           count(*) FILTER (WHERE status = 'VOID') AS void
    FROM crypto.predictions
    WHERE trading_day = ANY(:days)
    GROUP BY trading_day, symbol
    HAVING count(*) FILTER (WHERE status <> 'CANCELLED') > 0
    ORDER BY trading_day, symbol
    """
).bindparams(_DAYS)

# Per day: its players and its points (definitions in myapi/dashboard/service.py).
# * participants: players with a prediction of the day that is not cancelled;
# * dau: players with any prediction of the day (made, changed or cancelled in its game
#   day) or a ledger entry not written by the settlement in its game day;
# * points: the settlement's entries of the day (trading_day = D, whenever written:
#   first awards and later corrections), and the other entries written in its game day.
_PLAYERS_AND_POINTS = text(
    """
    SELECT d.day,
           pl.participants, pl.dau,
           s.issued + w.issued AS points_issued,
           s.spent + w.spent AS points_spent
    FROM unnest(:days, :starts, :ends) AS d (day, ws, we)
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE played) AS participants, count(*) AS dau
        FROM (
            SELECT user_id, bool_or(played) AS played
            FROM (
                SELECT user_id, status <> 'CANCELLED' AS played
                FROM crypto.predictions WHERE trading_day = d.day
                UNION ALL
                SELECT user_id, false
                FROM crypto.points_ledger
                WHERE trading_day IS NULL AND created_at >= d.ws AND created_at < d.we
            ) a
            GROUP BY user_id
        ) b
    ) pl
    CROSS JOIN LATERAL (
        SELECT COALESCE(sum(delta_points) FILTER (WHERE delta_points > 0), 0) AS issued,
               COALESCE(-sum(delta_points) FILTER (WHERE delta_points < 0), 0) AS spent
        FROM crypto.points_ledger WHERE trading_day = d.day
    ) s
    CROSS JOIN LATERAL (
        SELECT COALESCE(sum(delta_points) FILTER (WHERE delta_points > 0), 0) AS issued,
               COALESCE(-sum(delta_points) FILTER (WHERE delta_points < 0), 0) AS spent
        FROM crypto.points_ledger
        WHERE trading_day IS NULL AND created_at >= d.ws AND created_at < d.we
    ) w
    ORDER BY d.day
    """
).bindparams(_DAYS, _STARTS, _ENDS)

_SUMMARY_DAYS = text(
    """
    SELECT trading_day, predictions, participants, dau, correct, incorrect, void,
           points_issued, points_spent, refreshed_at
    FROM crypto.dashboard_days
    WHERE trading_day = ANY(:days)
    ORDER BY trading_day
    """
).bindparams(_DAYS)

_SUMMARY_SYMBOLS = text(
    """
    SELECT trading_day, symbol, predictions, correct, incorrect, void
    FROM crypto.dashboard_symbol_days
    WHERE trading_day = ANY(:days)
    ORDER BY trading_day, symbol
    """
).bindparams(_DAYS)

# Redemptions per current status whose last change (updated_at) falls in [start, end):
# one range of the (status, updated_at) index per status.
_REDEMPTIONS = text(
    """
    SELECT s.status::text,
           (SELECT count(*) FROM crypto.rewards_redemptions r
            WHERE r.status = s.status AND r.updated_at >= :start AND r.updated_at < :end) AS n
    FROM unnest(enum_range(NULL::crypto.redemption_status)) AS s (status)
    ORDER BY s.status
    """
)

# The distinct job names by a skip scan of ix_job_runs_job_id (one descent per name),
# with the names the code knows; then each one's run with the highest id (the last
# started: ids are assigned at start). `job = n.job ORDER BY id DESC` is planned as a
# backward walk of the primary key, filtering on job: through every run of the frequent
# jobs to find a rare one (seconds at a year of ticks). With the name as a range the
# sort key stays (job, id), which only ix_job_runs_job_id provides: one descent per job.
_LAST_RUNS = text(
    """
    WITH RECURSIVE seen (job) AS (
        (SELECT job FROM crypto.job_runs ORDER BY job LIMIT 1)
        UNION ALL
        SELECT (SELECT j.job FROM crypto.job_runs j WHERE j.job > seen.job ORDER BY j.job LIMIT 1)
        FROM seen WHERE seen.job IS NOT NULL
    ), names AS (
        SELECT job FROM seen WHERE job IS NOT NULL
        UNION
        SELECT unnest(:known)
    )
    SELECT n.job, r.id, r.trading_day, r.status, r.started_at, r.finished_at, r.error
    FROM names n
    LEFT JOIN LATERAL (
        SELECT id, trading_day, status, started_at, finished_at, error
        FROM crypto.job_runs j
        WHERE j.job >= n.job AND j.job <= n.job  -- a range, not an equality: see above
        ORDER BY j.job DESC, j.id DESC LIMIT 1
    ) r ON true
    ORDER BY n.job
    """
).bindparams(bindparam("known", type_=ARRAY(String())))


def _symbol(r: Any) -> SymbolFigures:
    return SymbolFigures(
        r.trading_day, r.symbol, int(r.predictions), int(r.correct), int(r.incorrect), int(r.void)
    )


class DashboardRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _exec(self, statement: Any, **params: Any) -> Any:
        return self.session.execute(statement, params)

    # --- counting days ---------------------------------------------------------------
    def count_days(self, days: Sequence[GameDay]) -> tuple[list[DayFigures], list[SymbolFigures]]:
        """The figures of `days` counted from the predictions and the ledger (exact;
        bounded by the days' own rows)."""
        if not days:
            return [], []
        day_list = [d.trading_day for d in days]
        symbols = [_symbol(r) for r in self._exec(_SYMBOLS, days=day_list)]
        totals: dict[date, list[int]] = {day: [0, 0, 0, 0] for day in day_list}
        for s in symbols:
            t = totals[s.trading_day]
            t[0] += s.predictions
            t[1] += s.correct
            t[2] += s.incorrect
            t[3] += s.void
        rows = self._exec(
            _PLAYERS_AND_POINTS,
            days=day_list,
            starts=[d.start for d in days],
            ends=[d.end for d in days],
        )
        figures = [
            DayFigures(
                trading_day=r.day,
                predictions=totals[r.day][0],
                participants=int(r.participants),
                dau=int(r.dau),
                correct=totals[r.day][1],
                incorrect=totals[r.day][2],
                void=totals[r.day][3],
                points_issued=int(r.points_issued),
                points_spent=int(r.points_spent),
            )
            for r in rows
        ]
        return figures, symbols

    # --- the summary -----------------------------------------------------------------
    def lock_day(self, trading_day: date) -> None:
        """One writer of a day's summary at a time (a redelivered follow-up waits, then
        rewrites the same figures)."""
        self._exec(
            text("SELECT pg_advisory_xact_lock(hashtext('crypto.dashboard_days'), :n)"),
            n=(trading_day - _EPOCH).days,
        )

    def write_day(
        self, day: GameDay, figures: DayFigures, symbols: Sequence[SymbolFigures], now: datetime
    ) -> None:
        """Replace the day's summary rows with `figures` and `symbols`."""
        self._exec(
            text("DELETE FROM crypto.dashboard_symbol_days WHERE trading_day = :day"), day=day.trading_day
        )
        if symbols:
            self.session.execute(
                text(
                    "INSERT INTO crypto.dashboard_symbol_days "
                    "(trading_day, symbol, predictions, correct, incorrect, void) "
                    "VALUES (:trading_day, :symbol, :predictions, :correct, :incorrect, :void)"
                ),
                [
                    {
                        "trading_day": s.trading_day, "symbol": s.symbol, "predictions": s.predictions,
                        "correct": s.correct, "incorrect": s.incorrect, "void": s.void,
                    }
                    for s in symbols
                ],
            )  # fmt: skip
        self._exec(
            text(
                """
                INSERT INTO crypto.dashboard_days AS d (trading_day, window_start, window_end, predictions,
                    participants, dau, correct, incorrect, void, points_issued, points_spent, refreshed_at)
                VALUES (:day, :ws, :we, :predictions, :participants, :dau, :correct, :incorrect, :void,
                        :issued, :spent, :now)
                ON CONFLICT (trading_day) DO UPDATE SET
                    window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end,
                    predictions = EXCLUDED.predictions, participants = EXCLUDED.participants,
                    dau = EXCLUDED.dau, correct = EXCLUDED.correct, incorrect = EXCLUDED.incorrect,
                    void = EXCLUDED.void, points_issued = EXCLUDED.points_issued,
                    points_spent = EXCLUDED.points_spent, refreshed_at = EXCLUDED.refreshed_at
                """
            ),
            day=day.trading_day, ws=day.start, we=day.end, predictions=figures.predictions,
            participants=figures.participants, dau=figures.dau, correct=figures.correct,
            incorrect=figures.incorrect, void=figures.void, issued=figures.points_issued,
            spent=figures.points_spent, now=now,
        )  # fmt: skip

    def summarised(
        self, days: Sequence[date]
    ) -> tuple[list[DayFigures], list[SymbolFigures], dict[date, datetime]]:
        """The summary rows of those of `days` that have one, and when each was written."""
        if not days:
            return [], [], {}
        rows = list(self._exec(_SUMMARY_DAYS, days=list(days)))
        figures = [
            DayFigures(
                trading_day=r.trading_day, predictions=int(r.predictions), participants=int(r.participants),
                dau=int(r.dau), correct=int(r.correct), incorrect=int(r.incorrect), void=int(r.void),
                points_issued=int(r.points_issued), points_spent=int(r.points_spent),
            )
            for r in rows
        ]  # fmt: skip
        symbols = [_symbol(r) for r in self._exec(_SUMMARY_SYMBOLS, days=[f.trading_day for f in figures])]
        return figures, symbols, {r.trading_day: r.refreshed_at for r in rows}

    # --- the rest of the dashboard ---------------------------------------------------
    def redemptions_by_status(self, start: datetime, end: datetime) -> dict[str, int]:
        return {str(r[0]): int(r[1]) for r in self._exec(_REDEMPTIONS, start=start, end=end)}

    def last_runs(self, known: Sequence[str]) -> list[JobLastRun]:
        return [
            JobLastRun(
                job=r.job, id=r.id, trading_day=r.trading_day, status=r.status,
                started_at=r.started_at, finished_at=r.finished_at, error=r.error,
            )
            for r in self._exec(_LAST_RUNS, known=list(known))
        ]  # fmt: skip
