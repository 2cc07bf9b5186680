"""EOD prices: fetching through the provider chain, and the vendor's signed webhook.

Fetching calls the outside world, so it never holds a database transaction open
while it waits: it reads what is missing in one unit of work, asks each provider (a
circuit breaker per provider; retries with back-off), and stores each attempt's
quotes and its `eod_fetch_logs` row in a unit of work of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from myapi.core.clock import Clock
from myapi.core.config import Settings
from myapi.core.db import unit_of_work
from myapi.cycle.calendar import MarketCalendar
from myapi.cycle.repository import SessionsRepository
from myapi.cycle.service import eod_available_from, require_market_closed
from myapi.events.catalogue import request_settlement
from myapi.market.repository import MarketRepository
from myapi.providers.eod.base import (
    EodBatch,
    EodProvider,
    EodProviderError,
    EodQuote,
    EodRateLimitedError,
    LatestPriceProvider,
    PricedQuote,
)
from myapi.providers.eod.breaker import CircuitBreaker
from myapi.universe.repository import UniverseRepository

logger = logging.getLogger("myapi.market")

ATTEMPTS_PER_PROVIDER = 3
BACKOFF_S = (1.0, 4.0)  # before the 2nd and 3rd attempt
RATE_LIMIT_BACKOFF_S = (15.0, 60.0)


class EodService:
    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Clock,
        settings: Settings,
        providers: Sequence[EodProvider],
        breakers: dict[str, CircuitBreaker],
        calendar: MarketCalendar,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._factory = factory
        self._clock = clock
        self._settings = settings
        self._calendar = calendar
        self._providers = providers
        self._breakers = breakers
        self._sleep = sleep

    def missing_symbols(self, trading_day: date, symbols: Sequence[str] | None = None) -> list[str]:
        """Of `symbols` (default: the day's universe), those without a close for the day."""
        with unit_of_work(self._factory) as session:
            universe = (
                list(symbols)
                if symbols is not None
                else [row.symbol for row in UniverseRepository(session).list_for_day(trading_day)]
            )
            priced = MarketRepository(session).priced_symbols(trading_day)
        return [symbol for symbol in universe if symbol not in priced]

    def fetch(self, trading_day: date, symbols: Sequence[str] | None = None) -> dict[str, Any]:
        """Fetch the closes of `trading_day` for every universe symbol still without one,
        primary provider first, the fallback for what it missed. Partial results are
        stored; what is still missing is reported (and retried by the next request).
        Refused for a day that is not a trading day (CYCLE_001) or whose market has not
        closed yet, plus EOD_FETCH_DELAY_MIN (CYCLE_002): a future day included.
        `symbols` (default: the day's universe) names other symbols to price, e.g. the
        next day's universe needing the previous close for its baselines."""
        available = eod_available_from(self._calendar, self._settings, trading_day)
        require_market_closed(available, trading_day, self._clock.now())
        todo = self.missing_symbols(trading_day, symbols)
        requested = len(todo)
        stored = 0
        attempts: list[dict[str, Any]] = []
        for provider in self._providers:
            if not todo:
                break
            breaker = self._breakers[provider.name]
            for attempt in range(ATTEMPTS_PER_PROVIDER):
                if not breaker.allow():
                    self._log(trading_day, provider.name, todo, todo, "FAILED", "circuit open", 0)
                    attempts.append({"provider": provider.name, "status": "CIRCUIT_OPEN"})
                    break
                outcome = self._attempt(trading_day, provider, breaker, todo)
                attempts.append({"provider": provider.name, **outcome})
                stored += int(outcome["stored"])
                todo = list(outcome["missing"])
                if outcome["status"] != "FAILED" or not todo or attempt == ATTEMPTS_PER_PROVIDER - 1:
                    break
                waits = RATE_LIMIT_BACKOFF_S if outcome.get("rate_limited") else BACKOFF_S
                self._sleep(waits[min(attempt, len(waits) - 1)])
        return {
            "trading_day": trading_day.isoformat(),
            "requested": requested,
            "stored": stored,
            "missing": todo,
            "attempts": attempts,
        }

    def latest_prices(self, trading_day: date, symbols: Sequence[str]) -> list[PricedQuote]:
        """The latest price of each symbol (pre-market included where a provider has
        it), from the first provider in the chain that can say, the next ones for what
        it did not price. Providers without live prices are skipped; a failing one is
        counted by its circuit breaker and the chain moves on. No transaction is held."""
        todo = list(dict.fromkeys(symbols))
        found: list[PricedQuote] = []
        now = self._clock.now()
        for provider in self._providers:
            if not todo:
                break
            if not isinstance(provider, LatestPriceProvider):
                continue
            breaker = self._breakers[provider.name]
            if not breaker.allow():
                continue
            try:
                quotes = provider.latest(trading_day, todo, now)
            except EodProviderError as exc:
                breaker.record_failure()
                logger.warning("latest prices from %s failed: %s", provider.name, exc)
                continue
            breaker.record_success()
            found += [PricedQuote(quotes[s], provider.name) for s in todo if s in quotes]
            todo = [s for s in todo if s not in quotes]
        return found

    def _attempt(
        self, trading_day: date, provider: EodProvider, breaker: CircuitBreaker, symbols: list[str]
    ) -> dict[str, Any]:
        started = time.perf_counter()
        rate_limited = False
        try:
            batch = provider.fetch(trading_day, symbols)
            error = "; ".join(f"{s}: {why}" for s, why in sorted(batch.errors.items())) or None
        except EodProviderError as exc:
            rate_limited = isinstance(exc, EodRateLimitedError)
            batch = EodBatch(provider=provider.name, missing=list(symbols))
            error = f"{type(exc).__name__}: {exc}"
        duration_ms = int((time.perf_counter() - started) * 1000)
        quotes = [q for s, q in batch.quotes.items() if s in symbols and q.asof == trading_day]
        missing = [s for s in symbols if s not in {q.symbol for q in quotes}]
        status = "SUCCESS" if not missing else ("PARTIAL" if quotes else "FAILED")
        if status == "FAILED":
            breaker.record_failure()
        else:
            breaker.record_success()
        with unit_of_work(self._factory) as session:
            repo = MarketRepository(session)
            stored = repo.store_quotes(quotes, provider.name, self._clock.now())
            repo.log_attempt(
                trading_day=trading_day,
                provider=provider.name,
                symbols=symbols,
                missing=missing,
                status=status,
                error=error[:4000] if error else None,
                duration_ms=duration_ms,
                now=self._clock.now(),
            )
        logger.info(
            "eod fetch %s %s: %s (%d stored, %d missing)",
            provider.name, trading_day, status, stored, len(missing),
        )  # fmt: skip
        return {"status": status, "stored": stored, "missing": missing, "rate_limited": rate_limited}

    def _log(
        self,
        day: date,
        provider: str,
        symbols: list[str],
        missing: list[str],
        status: str,
        error: str,
        ms: int,
    ) -> None:
        with unit_of_work(self._factory) as session:
            MarketRepository(session).log_attempt(
                trading_day=day, provider=provider, symbols=symbols, missing=missing,
                status=status, error=error, duration_ms=ms, now=self._clock.now(),
            )  # fmt: skip


class VendorEventService:
    """A vendor's pushed prices (already authenticated and validated)."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def store(self, quotes: Sequence[EodQuote]) -> int:
        """Store quotes with their vendor_rev in the caller's transaction. Returns rows
        inserted (a re-delivery of the same revision inserts nothing)."""
        return MarketRepository(self._session).store_quotes(quotes, "vendor-webhook", self._clock.now())

    def ingest(self, asof: date, vendor_rev: int, quotes: Sequence[EodQuote]) -> dict[str, Any]:
        """Store pushed prices; when they are new and the day has a session, ask for its
        (re)settlement — a higher vendor_rev for a settled day re-settles what changed."""
        stored = self.store(quotes)
        requested = None
        if stored and SessionsRepository(self._session).get(asof) is not None:
            requested = request_settlement(self._session, self._clock.now(), asof)["requested"]
        return {"asof": asof.isoformat(), "vendor_rev": vendor_rev, "stored": stored, "settlement": requested}


def make_breakers(
    providers: Sequence[EodProvider], clock: Clock, settings: Settings
) -> dict[str, CircuitBreaker]:
    """One circuit breaker per provider, for the life of the process."""
    return {
        p.name: CircuitBreaker(
            p.name,
            clock,
            failure_threshold=settings.eod_breaker_failures,
            reset_after_s=settings.eod_breaker_reset_s,
        )
        for p in providers
    }
