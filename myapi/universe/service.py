"""The universe of a trading day: which tickers can be predicted, and their baselines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy.orm import Session

from myapi.audit.repository import AuditRepository
from myapi.core.clock import Clock
from myapi.core.config import Settings
from myapi.core.errors import ConflictError, ValidationFailedError
from myapi.core.symbols import is_valid_symbol, normalise_symbol
from myapi.cycle.calendar import MarketCalendar
from myapi.cycle.repository import SessionsRepository
from myapi.cycle.service import NotATradingDayError, is_open_for_predictions
from myapi.predictions.repository import PredictionsRepository
from myapi.providers.eod.base import PricedQuote
from myapi.universe.defaults import DEFAULT_TICKERS
from myapi.universe.models import ActiveUniverse
from myapi.universe.repository import Baseline, UniverseRepository
from myapi.universe.schemas import UniverseItemOut, UniverseSymbolIn, UniverseTodayOut, UniverseUpsertOut


class UniverseInUseError(ConflictError):
    code = "UNIVERSE_001"
    message = "Symbols with predictions cannot be removed from the day's universe"


class UniverseService:
    def __init__(self, session: Session, clock: Clock, settings: Settings, calendar: MarketCalendar) -> None:
        self._session = session
        self._clock = clock
        self._settings = settings
        self._calendar = calendar
        self._repo = UniverseRepository(session)

    def _ordered(self, symbols: Sequence[str | UniverseSymbolIn] | None) -> list[tuple[str, int]]:
        items: list[tuple[str, int | None]] = []
        for raw in DEFAULT_TICKERS if symbols is None else symbols:
            if isinstance(raw, UniverseSymbolIn):
                items.append((raw.symbol, raw.seq))
            else:
                items.append((normalise_symbol(raw), None))
        if symbols is None:
            items = items[: self._settings.universe_max_size]
        problems: list[dict[str, Any]] = []
        invalid = [s for s, _ in items if not is_valid_symbol(s)]
        if invalid:
            problems.append({"field": "symbols", "message": f"invalid symbols: {invalid}"})
        counts = Counter(s for s, _ in items)
        duplicates = sorted(s for s, n in counts.items() if n > 1)
        if duplicates:
            problems.append({"field": "symbols", "message": f"duplicate symbols: {duplicates}"})
        if not items:
            problems.append({"field": "symbols", "message": "at least one symbol is required"})
        if len(items) > self._settings.universe_max_size:
            problems.append(
                {
                    "field": "symbols",
                    "message": f"at most {self._settings.universe_max_size} symbols",
                }
            )
        if problems:
            raise ValidationFailedError("Invalid universe", details=problems)
        # Explicit seq wins; the rest follow in list order.
        explicit = {seq for _, seq in items if seq is not None}
        next_seq = 1
        ordered: list[tuple[str, int]] = []
        for symbol, seq in items:
            if seq is None:
                while next_seq in explicit:
                    next_seq += 1
                seq = next_seq
                next_seq += 1
            ordered.append((symbol, seq))
        return ordered

    def upsert(
        self,
        trading_day: date | None,
        symbols: Sequence[str | UniverseSymbolIn] | None,
        *,
        actor: str,
        actor_user_id: int | None = None,
    ) -> UniverseUpsertOut:
        """Atomically replace day D's universe. Symbols that stay keep their baseline;
        new ones get the official close of the previous trading day (none when it is not
        stored: the baseline refresh fills it, and until then the symbol cannot be
        predicted). Removing a symbol that has a live
        prediction is refused (409), and then nothing changes; a symbol whose only
        predictions were cancelled can be removed (those cancelled rows go with it).
        Audited."""
        day = trading_day or self._calendar.trading_day_for(self._clock.now())
        if not self._calendar.is_trading_day(day):
            raise NotATradingDayError(details={"trading_day": day.isoformat()})
        ordered = self._ordered(symbols)
        self._repo.lock_day(day)
        existing = {row.symbol: row for row in self._repo.list_for_day(day)}
        wanted = dict(ordered)
        removed = sorted(set(existing) - set(wanted))
        predictions = PredictionsRepository(self._session)
        in_use = predictions.symbols_with_predictions(day, removed)
        if in_use:
            raise UniverseInUseError(details={"symbols": in_use})
        cancelled_deleted = predictions.delete_cancelled(day, removed)
        added = [s for s in wanted if s not in existing]
        updated = [s for s in wanted if s in existing and existing[s].seq != wanted[s]]
        baselines = self._repo.closes_on(self._calendar.previous_trading_day(day), list(wanted))
        self._repo.delete_symbols(day, removed)
        self._repo.upsert([self._row(day, symbol, seq, baselines.get(symbol)) for symbol, seq in ordered])
        AuditRepository(self._session).record(
            actor=actor,
            actor_user_id=actor_user_id,
            action="universe.upsert",
            target=f"universe:{day.isoformat()}",
            payload={
                "added": added,
                "removed": removed,
                "updated": updated,
                "cancelled_predictions_deleted": cancelled_deleted,
            },
            now=self._clock.now(),
        )
        missing = sorted(
            s
            for s in wanted
            if s not in baselines and (s not in existing or existing[s].baseline_price is None)
        )
        return UniverseUpsertOut(
            trading_day=day,
            added=len(added),
            updated=len(updated),
            removed=len(removed),
            total=len(wanted),
            baselines_missing=missing,
        )

    def ensure_default(self, trading_day: date, *, actor: str) -> bool:
        """Set the default universe for D unless one is set already. Returns True if set."""
        if self._repo.count_for_day(trading_day) > 0:
            return False
        self.upsert(trading_day, None, actor=actor)
        return True

    def list_for_day(self, trading_day: date) -> list[ActiveUniverse]:
        return self._repo.list_for_day(trading_day)

    def today(self) -> UniverseTodayOut:
        """The current trading day's tickers: each with its baseline (the price a
        prediction made now is judged against), when and where it is from, the previous
        official close and the change since it. `baselines_available` is false while
        any symbol has no baseline yet (such a symbol cannot be predicted: PRED_006)."""
        day = self._calendar.trading_day_for(self._clock.now())
        items = [UniverseItemOut.model_validate(r) for r in self._repo.list_for_day(day)]
        available = bool(items) and all(i.baseline_price is not None for i in items)
        return UniverseTodayOut(trading_day=day, items=items, baselines_available=available)

    def fill_missing_baselines(self, trading_day: date) -> int:
        """Give every symbol of D without a baseline (or previous close) the previous
        session's official close, where one is stored; a baseline already set is never
        replaced. Returns how many symbols got one."""
        rows = [
            r
            for r in self._repo.list_for_day(trading_day)
            if r.baseline_price is None or r.previous_close is None
        ]
        closes = self._repo.closes_on(
            self._calendar.previous_trading_day(trading_day), [r.symbol for r in rows]
        )
        self._repo.upsert(
            [self._row(trading_day, r.symbol, r.seq, closes[r.symbol]) for r in rows if r.symbol in closes]
        )
        return sum(1 for r in rows if r.baseline_price is None and r.symbol in closes)

    def symbols(self, trading_day: date) -> list[str]:
        """The day's symbols, or the default list when none is set yet."""
        rows = self._repo.list_for_day(trading_day)
        if rows:
            return [r.symbol for r in rows]
        return [symbol for symbol, _ in self._ordered(None)]

    def refresh_baselines(self, trading_day: date, quotes: Sequence[PricedQuote]) -> dict[str, Any]:
        """Move each symbol's baseline to the latest price while the day accepts
        predictions (so a prediction snapshots the price of its own moment); outside
        that window nothing changes. A price from an earlier instant than the stored
        baseline, or from the future, is ignored."""
        now = self._clock.now()
        row = SessionsRepository(self._session).get(trading_day)
        result: dict[str, Any] = {"trading_day": trading_day.isoformat(), "quotes": len(quotes)}
        if row is None or not is_open_for_predictions(row.phase, row.predict_cutoff_at, now):
            return {**result, "refreshed": 0, "skipped": "SESSION_NOT_OPEN"}
        prices = [(q.quote.symbol, q.quote.price, q.quote.at, q.source) for q in quotes if q.quote.at <= now]
        return {**result, "refreshed": self._repo.set_baselines(trading_day, prices)}

    def _row(self, day: date, symbol: str, seq: int, baseline: Baseline | None) -> dict[str, object]:
        return {
            "trading_day": day,
            "symbol": symbol,
            "seq": seq,
            "baseline_price": baseline.price if baseline else None,
            "baseline_at": self._close_instant(baseline.asof) if baseline else None,
            "baseline_source": baseline.provider if baseline else None,
            "previous_close": baseline.price if baseline else None,
        }

    def _close_instant(self, asof: date) -> datetime:
        """When the baseline close was official: the close of that session."""
        if self._calendar.is_trading_day(asof):
            return self._calendar.session_times(asof, 0).market_close
        return datetime.combine(asof, time(21, 0), tzinfo=UTC)
