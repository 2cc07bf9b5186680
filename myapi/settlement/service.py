"""Settlement of a trading day (SPEC §5): set-based, one transaction per day under the
lock on that day's session_control row, idempotent, and revision-aware.

Corporate actions (issue 13): before a symbol is (re)settled from a price, the EOD
validation compares that close with its reference prices and reads what the provider
reported; a symbol-day that looks like a split or a special dividend is HELD for an
operator's review instead of settled (its predictions stay PENDING, or keep their
results for a held revision), while the rest of the day settles. The operator's decision
(SETTLE on the stored close, or VOID) and an operator's VOID of any symbol-day (halt, bad
data, corporate action) are applied by the same `settle`, restricted to that symbol: the
same statements, the same ledger path, the same idempotency.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.orm import Session

from myapi.audit.repository import AuditRepository
from myapi.core.clock import Clock
from myapi.core.config import Settings
from myapi.core.enums import Phase
from myapi.core.errors import AppError, ConflictError, NotFoundError, ValidationFailedError
from myapi.cycle.models import SessionControl
from myapi.cycle.repository import SessionsRepository
from myapi.cycle.service import require_market_closed
from myapi.events.catalogue import SettlementCompleted, Topic, emit
from myapi.points.staging import LedgerStaging
from myapi.settlement.models import Settlement, SymbolDayReview
from myapi.settlement.repository import (
    SettlementReadRepository,
    SettlementRepository,
    SymbolDayReviewRepository,
)
from myapi.universe.repository import UniverseRepository

logger = logging.getLogger("myapi.settlement")


class SessionNotClosedError(ConflictError):
    code = "SETTLE_001"
    message = "The session is still open for predictions; settle after the cutoff"


class ReversalExceedsBalanceError(AppError):
    status_code = 409
    code = "SETTLE_002"
    message = "A correction would take more points than some players have; adjust by hand"


class SymbolDayNotFoundError(NotFoundError):
    code = "CORP_404"
    message = "No such symbol-day to review"


class AlreadyDecidedError(ConflictError):
    code = "CORP_001"
    message = "The symbol-day was already decided otherwise; its decision is final"


Decision = Literal["SETTLE", "VOID"]
VoidReason = Literal["HALT", "BAD_DATA", "CORPORATE_ACTION"]


class SettlementService:
    def __init__(self, session: Session, clock: Clock, settings: Settings) -> None:
        self._session = session
        self._clock = clock
        self._settings = settings
        self._repo = SettlementRepository(session)

    def settle(
        self,
        trading_day: date,
        *,
        symbols: Sequence[str] | None = None,
        write_off: str | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Settle `trading_day` from the latest EOD revision of each symbol: refused while
        its session is open (SETTLE_001) and before its close + EOD_FETCH_DELAY_MIN
        (CYCLE_002, whatever the path).

        * Corporate actions first: a symbol about to be settled from a price whose
          provider reported a split (or a dividend of at least
          CORPORATE_ACTION_DIVIDEND_MIN of the previous close), or whose close is further
          than CORPORATE_ACTION_MAX_MOVE from a reference price, is HELD for review
          (`details.held`): it is not settled until an operator decides (a held revision
          of a settled symbol keeps the results of the earlier one).
        * Per symbol: a `settlements` row (close vs previous close, for display).
        * Per prediction: close vs its baseline -> CORRECT / INCORRECT / VOID (equal,
          no baseline, or no valid close), +POINTS_WIN_REWARD per correct prediction
          through the set-based ledger (ref SETTLEMENT:{day}:{symbol}:{user}); a symbol
          an operator VOIDED is VOID with the operator's reason, and points it had won
          are taken back (SETTLEMENT_REVERSAL:…:void).
        * A higher vendor_rev for a settled symbol re-settles it: predictions flip both
          ways, with compensating ledger entries (their own refs) so balances equal the
          corrected outcome. A change no player's balance can absorb (less their open
          holds) refuses the whole run (SETTLE_002), unless `write_off` names the
          operator's decision that writes the shortfall off (WRITE_OFF:…:{write_off}).
        * Idempotent: symbols already settled from their latest revision are untouched,
          so a re-run or a duplicate delivery awards nothing twice.

        `symbols` restricts the run to those symbols (an operator's decision): it never
        marks the day settled, and emits `settlement.completed` only for a settled day.
        A full run marks the day settled (`settled_at`) even with symbols held: they wait
        for their decision, the rest of the day goes on. `actor` (an operator) is audited.
        """
        started = time.perf_counter()
        now = self._clock.now()
        session_row = self._lock_session(trading_day)
        self._require_settleable(session_row, now)
        if session_row.phase == Phase.PREDICT:
            session_row.phase = Phase.SETTLE

        self._repo.configure_transaction(
            self._settings.settlement_statement_timeout_ms, self._settings.settlement_work_mem_mb
        )
        self._repo.reset()
        self._repo.load_effective_prices(trading_day)
        held = self._repo.hold_flagged(
            trading_day,
            now,
            max_move=self._settings.corporate_action_max_move,
            dividend_min=self._settings.corporate_action_dividend_min,
            symbols=symbols,
        )
        affected = self._repo.select_affected(trading_day, symbols)
        result: dict[str, Any] = {"trading_day": trading_day.isoformat(), "symbols_settled": affected}
        if symbols is not None:
            result["symbols"] = list(symbols)
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
                if short and write_off is not None:
                    players, points = self._repo.stage_write_offs()
                    staging.stage(*self._repo.ledger_changes(trading_day, write_off))
                    short = staging.users_short_of_points()
                    result["written_off"] = {"players": players, "points": points}
                if short:
                    raise ReversalExceedsBalanceError(details={"user_ids": short})
                entries, users = staging.apply(trading_day, now)
                staging.emit_points_awarded(trading_day, now)
            result.update(predictions_changed=changed, ledger_entries=entries, players_credited=users)
        if symbols is None and session_row.settled_at is None:
            session_row.settled_at = now
        session_row.updated_at = now
        counts = self._repo.counts(trading_day)
        result["counts"] = {k: int(v) for k, v in counts.items()}
        result["held"] = [_held_json(row) for row in held]
        result["held_symbols"] = SymbolDayReviewRepository(self._session).held_symbols(trading_day)
        if affected and session_row.settled_at is not None:
            # A decision's run names its symbol: it never collides with the day's run.
            scope = f"{trading_day.isoformat()}-{'-'.join(symbols)}" if symbols else trading_day.isoformat()
            emit(
                self._session,
                SettlementCompleted.model_validate(result),
                Topic.SETTLEMENT_COMPLETED,
                now=now,
                group_id=f"settlement-{trading_day.isoformat()}",
                dedup_id=f"settlement-{scope}-{int(now.timestamp() * 1000)}",
            )
        if actor is not None:
            AuditRepository(self._session).record(
                actor=actor,
                actor_user_id=_user_id(actor),
                action="settlement.run",
                target=f"session:{trading_day.isoformat()}",
                payload={k: v for k, v in result.items() if k != "counts"},
                now=now,
            )
        self._session.flush()
        result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        logger.info("settled %s", trading_day, extra={"settlement": result})
        return result

    # --- the operators' review of symbol-days --------------------------------------------
    def decide(
        self,
        trading_day: date,
        symbol: str,
        *,
        decision: Decision,
        note: str,
        actor: str,
        write_off_shortfall: bool = False,
    ) -> dict[str, Any]:
        """An operator's decision on a HELD symbol-day (CORP_404 when it was never held):
        SETTLE settles its predictions on the stored close (the latest revision), VOID
        makes them VOID (reason CORPORATE_ACTION; points a held revision's predecessor
        had awarded are taken back) — both through `settle` restricted to the symbol,
        in this transaction, then `settlement.completed` runs the day's follow-up
        (notifications, leaderboard, crowd) again. Idempotent: the same decision again
        changes nothing (`changed: false`); the other one is CORP_001 (final; the VOID
        route can still void a SETTLED symbol-day). A take-back some player cannot absorb
        is SETTLE_002 and nothing changes, unless `write_off_shortfall` writes the
        missing points off (ledger WRITE_OFF:…:decide). Audited with the counts before
        and after."""
        now = self._clock.now()
        self._lock_session(trading_day)
        reviews = SymbolDayReviewRepository(self._session)
        review = reviews.lock(trading_day, symbol)
        if review is None or review.trigger is None:
            raise SymbolDayNotFoundError(
                "No held symbol-day to decide",
                details={"trading_day": trading_day.isoformat(), "symbol": symbol},
            )
        status = "SETTLED" if decision == "SETTLE" else "VOIDED"
        if review.status == status:
            return {"changed": False, "review": review_json(review), "settlement": None}
        if review.status != "HELD":
            raise AlreadyDecidedError(details={"status": review.status, "decision": decision})
        before = self._repo.symbol_counts(trading_day, symbol)
        review.status = status
        review.void_reason = "CORPORATE_ACTION" if decision == "VOID" else None
        self._decided(review, note, actor, now)
        settled = self.settle(
            trading_day, symbols=[symbol], write_off="decide" if write_off_shortfall else None
        )
        return self._audit_decision(
            "settlement.corporate_action.decide", review, actor, now, settled, before,
            decision=decision, note=note, trigger=review.trigger,
        )  # fmt: skip

    def void(
        self,
        trading_day: date,
        symbol: str,
        *,
        reason: VoidReason,
        note: str,
        actor: str,
        write_off_shortfall: bool = False,
    ) -> dict[str, Any]:
        """An operator VOIDs a symbol-day of the day's universe (CORP_404 otherwise):
        every prediction becomes VOID with `reason`; points already awarded for it are
        taken back through the ledger (SETTLEMENT_REVERSAL:…:void). A HELD symbol-day is
        decided VOID by it; a SETTLED one (normally settled, or decided SETTLE) is
        re-settled VOID. Applied at once when the day can be settled (after its close +
        EOD_FETCH_DELAY_MIN, predictions closed), else recorded and applied by the
        day's settlement (`applied: false`). Idempotent: the same reason again changes
        nothing; another reason is CORP_001. A take-back some player cannot absorb (they
        spent the points, or hold them for a redemption) is SETTLE_002 with their ids and
        nothing changes, unless `write_off_shortfall` writes the missing points off
        (ledger WRITE_OFF:…:void, credited before the take-back: the player ends at their
        open holds). Audited with the counts before and after."""
        now = self._clock.now()
        session_row = self._lock_session(trading_day)
        if UniverseRepository(self._session).get(trading_day, symbol) is None:
            raise SymbolDayNotFoundError(
                "The symbol is not in that day's universe",
                details={"trading_day": trading_day.isoformat(), "symbol": symbol},
            )
        reviews = SymbolDayReviewRepository(self._session)
        review = reviews.lock(trading_day, symbol)
        if review is not None and review.status == "VOIDED":
            if review.void_reason == reason:
                return {"changed": False, "applied": None, "review": review_json(review), "settlement": None}
            raise AlreadyDecidedError(
                "The symbol-day is already VOID with another reason",
                details={"void_reason": review.void_reason, "reason": reason},
            )
        before = self._repo.symbol_counts(trading_day, symbol)
        if review is None:
            review = reviews.add(
                SymbolDayReview(
                    trading_day=trading_day, symbol=symbol, status="VOIDED", void_reason=reason,
                    note=note, decided_by=actor, decided_at=now, updated_at=now,
                )
            )  # fmt: skip
        review.status = "VOIDED"
        review.void_reason = reason
        self._decided(review, note, actor, now)
        settled = None
        if self._settleable(session_row, now):
            settled = self.settle(
                trading_day, symbols=[symbol], write_off="void" if write_off_shortfall else None
            )
        return self._audit_decision(
            "settlement.symbol_day.void", review, actor, now, settled, before, reason=reason, note=note
        )

    def _decided(self, review: SymbolDayReview, note: str, actor: str, now: datetime) -> None:
        review.note = note
        review.decided_by = actor
        review.decided_at = now
        review.updated_at = now
        self._session.flush()

    def _audit_decision(
        self,
        action: str,
        review: SymbolDayReview,
        actor: str,
        now: datetime,
        settled: dict[str, Any] | None,
        before: dict[str, int],
        **payload: Any,
    ) -> dict[str, Any]:
        after = self._repo.symbol_counts(review.trading_day, review.symbol)
        summary = None
        if settled is not None:
            summary = {k: v for k, v in settled.items() if k not in ("counts", "held", "held_symbols")}
        AuditRepository(self._session).record(
            actor=actor,
            actor_user_id=_user_id(actor),
            action=action,
            target=f"symbol_day:{review.trading_day.isoformat()}:{review.symbol}",
            payload={**payload, "before": before, "after": after, "settlement": summary},
            now=now,
        )
        return {
            "changed": True,
            "applied": settled is not None,
            "review": review_json(review),
            "predictions_before": before,
            "predictions_after": after,
            "settlement": summary,
        }

    # --- guards ----------------------------------------------------------------------------
    def _lock_session(self, trading_day: date) -> SessionControl:
        session_row = SessionsRepository(self._session).lock(trading_day)
        if session_row is None:
            raise NotFoundError("No session for that trading day", code="SETTLE_404")
        return session_row

    def _require_settleable(self, session_row: SessionControl, now: datetime) -> None:
        if session_row.phase == Phase.PREDICT and now < session_row.predict_cutoff_at:
            raise SessionNotClosedError(details={"trading_day": session_row.trading_day.isoformat()})
        # Nothing is settled on a price of a session that has not closed (CYCLE_002).
        delay = timedelta(minutes=self._settings.eod_fetch_delay_min)
        require_market_closed(session_row.market_close_at + delay, session_row.trading_day, now)

    def _settleable(self, session_row: SessionControl, now: datetime) -> bool:
        try:
            self._require_settleable(session_row, now)
        except AppError:
            return False
        return True


def _held_json(row: dict[str, Any]) -> dict[str, Any]:
    """A held symbol-day as the job's details (JSON: prices as strings)."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}


def review_json(review: SymbolDayReview) -> dict[str, Any]:
    return {
        "trading_day": review.trading_day.isoformat(),
        "symbol": review.symbol,
        "status": review.status,
        "trigger": review.trigger,
        "void_reason": review.void_reason,
        "note": review.note,
        "decided_by": review.decided_by,
        "decided_at": review.decided_at.isoformat() if review.decided_at else None,
    }


def _user_id(actor: str) -> int | None:
    """The user id of an operator actor `user:{id}` (None for other actors)."""
    kind, _, ident = actor.partition(":")
    return int(ident) if kind == "user" and ident.isdigit() else None


MAX_RESULT_DAYS = 31


class SettlementQueries:
    """Read side of settlement: a day's per-symbol results and its operator summary."""

    def __init__(self, session: Session) -> None:
        self._sessions = SessionsRepository(session)
        self._reads = SettlementReadRepository(session)
        self._review_rows = SymbolDayReviewRepository(session)

    def _session(self, trading_day: date) -> SessionControl:
        row = self._sessions.get(trading_day)
        if row is None:
            raise NotFoundError("No session for that trading day", code="SETTLE_404")
        return row

    def day(self, trading_day: date) -> tuple[SessionControl, list[Settlement]]:
        return self._session(trading_day), self._reads.for_day(trading_day)

    def summary(self, trading_day: date) -> tuple[SessionControl, dict[str, Any]]:
        return self._session(trading_day), self._reads.summary(trading_day)

    def reviews(
        self, status: str | None, trading_day: date | None, limit: int, offset: int
    ) -> tuple[list[tuple[SymbolDayReview, dict[str, int]]], int]:
        """Symbol-days out of the automatic settlement (HELD, SETTLED, VOIDED; or all),
        newest day first, each with its predictions by status; and the total."""
        return self._review_rows.page(status, trading_day, limit, offset)

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
