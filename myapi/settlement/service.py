"""Settlement of a trading day (SPEC §5): set-based, one transaction per day under the
lock on that day's session_control row, idempotent, and revision-aware."""

from __future__ import annotations

import logging
import time
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from myapi.core.clock import Clock
from myapi.core.config import Settings
from myapi.core.enums import Phase
from myapi.core.errors import AppError, ConflictError, NotFoundError, ValidationFailedError
from myapi.cycle.models import SessionControl
from myapi.cycle.repository import SessionsRepository
from myapi.cycle.service import require_market_closed
from myapi.events.catalogue import SettlementCompleted, Topic, emit
from myapi.points.staging import LedgerStaging
from myapi.settlement.models import Settlement
from myapi.settlement.repository import SettlementReadRepository, SettlementRepository

logger = logging.getLogger("myapi.settlement")


class SessionNotClosedError(ConflictError):
    code = "SETTLE_001"
    message = "The session is still open for predictions; settle after the cutoff"


class ReversalExceedsBalanceError(AppError):
    status_code = 409
    code = "SETTLE_002"
    message = "A correction would take more points than some players have; adjust by hand"


class SettlementService:
    def __init__(self, session: Session, clock: Clock, settings: Settings) -> None:
        self._session = session
        self._clock = clock
        self._settings = settings
        self._repo = SettlementRepository(session)

    def settle(self, trading_day: date) -> dict[str, Any]:
        """Settle `trading_day` from the latest EOD revision of each symbol: refused while
        its session is open (SETTLE_001) and before its close + EOD_FETCH_DELAY_MIN
        (CYCLE_002, whatever the path).

        * Per symbol: a `settlements` row (close vs previous close, for display).
        * Per prediction: close vs its baseline -> CORRECT / INCORRECT / VOID (equal,
          no baseline, or no valid close), +POINTS_WIN_REWARD per correct prediction
          through the set-based ledger (ref SETTLEMENT:{day}:{symbol}:{user}).
        * A higher vendor_rev for a settled symbol re-settles it: predictions flip both
          ways, with compensating ledger entries (their own refs) so balances equal the
          corrected outcome.
        * Idempotent: symbols already settled from their latest revision are untouched,
          so a re-run or a duplicate delivery awards nothing twice.
        """
        started = time.perf_counter()
        now = self._clock.now()
        session_row = SessionsRepository(self._session).lock(trading_day)
        if session_row is None:
            raise NotFoundError("No session for that trading day", code="SETTLE_404")
        if session_row.phase == Phase.PREDICT and now < session_row.predict_cutoff_at:
            raise SessionNotClosedError(details={"trading_day": trading_day.isoformat()})
        # Nothing is settled on a price of a session that has not closed (CYCLE_002).
        delay = timedelta(minutes=self._settings.eod_fetch_delay_min)
        require_market_closed(session_row.market_close_at + delay, trading_day, now)
        if session_row.phase == Phase.PREDICT:
            session_row.phase = Phase.SETTLE

        self._repo.configure_transaction(
            self._settings.settlement_statement_timeout_ms, self._settings.settlement_work_mem_mb
        )
        self._repo.reset()
        self._repo.load_effective_prices(trading_day)
        affected = self._repo.select_affected(trading_day)
        result: dict[str, Any] = {"trading_day": trading_day.isoformat(), "symbols_settled": affected}
        if affected:
            self._repo.analyze_affected()
            self._repo.upsert_settlements(trading_day, now)
            win = self._settings.points_win_reward
            self._repo.create_change_table()
            changed = self._repo.resettle_changed(trading_day, now, win)
            changed += self._repo.settle_pending(trading_day, now, win)
            staging = LedgerStaging(self._session)
            staged = staging.stage(*self._repo.ledger_changes(trading_day))
            entries = users = 0
            if staged:
                # Balances are locked before they are checked: a spend committing in
                # between cannot turn a SETTLE_002 into a constraint violation.
                staging.lock_balances(now)
                short = staging.users_short_of_points()
                if short:
                    raise ReversalExceedsBalanceError(details={"user_ids": short})
                entries, users = staging.apply(trading_day, now)
                staging.emit_points_awarded(trading_day, now)
            result.update(predictions_changed=changed, ledger_entries=entries, players_credited=users)
        if session_row.settled_at is None:
            session_row.settled_at = now
        session_row.updated_at = now
        counts = self._repo.counts(trading_day)
        result["counts"] = {k: int(v) for k, v in counts.items()}
        if affected:
            emit(
                self._session,
                SettlementCompleted.model_validate(result),
                Topic.SETTLEMENT_COMPLETED,
                now=now,
                group_id=f"settlement-{trading_day.isoformat()}",
                dedup_id=f"settlement-{trading_day.isoformat()}-{int(now.timestamp() * 1000)}",
            )
        self._session.flush()
        result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        logger.info("settled %s", trading_day, extra={"settlement": result})
        return result


MAX_RESULT_DAYS = 31


class SettlementQueries:
    """Read side of settlement: a day's per-symbol results and its operator summary."""

    def __init__(self, session: Session) -> None:
        self._sessions = SessionsRepository(session)
        self._reads = SettlementReadRepository(session)

    def _session(self, trading_day: date) -> SessionControl:
        row = self._sessions.get(trading_day)
        if row is None:
            raise NotFoundError("No session for that trading day", code="SETTLE_404")
        return row

    def day(self, trading_day: date) -> tuple[SessionControl, list[Settlement]]:
        return self._session(trading_day), self._reads.for_day(trading_day)

    def summary(self, trading_day: date) -> tuple[SessionControl, dict[str, Any]]:
        return self._session(trading_day), self._reads.summary(trading_day)

    def settled_between(self, first: date, last: date) -> list[tuple[SessionControl, list[Settlement]]]:
        """Settled days in [first, last] (an ascending range of at most MAX_RESULT_DAYS,
        else SYS_422), newest first, with their per-symbol results."""
        if last < first or last - first > timedelta(days=MAX_RESULT_DAYS - 1):
            raise ValidationFailedError(
                f"from..to must be an ascending range of at most {MAX_RESULT_DAYS} days",
                details={"from": first.isoformat(), "to": last.isoformat(), "max_days": MAX_RESULT_DAYS},
            )
        sessions = self._sessions.settled_between(first, last)
        by_day = self._reads.between(first, last)
        return [(row, by_day.get(row.trading_day, [])) for row in sessions]
