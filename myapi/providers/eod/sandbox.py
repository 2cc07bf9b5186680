"""Deterministic offline prices for development and tests (EOD_PROVIDER=sandbox).

    base(symbol)       = 20.00 .. 500.00, from sha256(symbol)
    drift(symbol, day) = -3 % .. +3 %,    from sha256(f"{symbol}|{day.isoformat()}")
    close(symbol, day) = round(base * (1 + drift), 2)

The latest price (`latest`, for the baseline refresh while a session is open) is the
last close before the trading day moved by up to ±0.5 %, from sha256 of the symbol and
the 5-minute bucket of the instant, so it changes during the day and is the same for
every process at the same instant.

Prices do not random-walk: each day's close is the base moved by that day's drift, so a
close can be computed for any day without history. `prev_close` is the close of the
previous calendar weekday (Friday for a Monday); exchange holidays are not skipped, the
sandbox knows no calendar. sha256 (unlike `hash()`) is stable across processes and
machines, so the same (symbol, day) always gives the same prices.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from myapi.providers.eod.base import EodBatch, EodQuote, LiveQuote
from myapi.providers.eod.validation import to_price

BASE_MIN = Decimal(20)
BASE_MAX = Decimal(500)
MAX_DRIFT = Decimal("0.03")
CENT = Decimal("0.01")
_SCALE = 10**9  # resolution of the hash -> [0, 1] mapping
LIVE_BUCKET = timedelta(minutes=5)
LIVE_MAX_MOVE = Decimal("0.005")


class SandboxEodProvider:
    def __init__(self, name: str = "sandbox", unpriced: Collection[str] = ()) -> None:
        self.name = name
        # Symbols the sandbox pretends it has no data for (to exercise fallbacks).
        self.unpriced = frozenset(unpriced)

    def fetch(self, trading_day: date, symbols: Sequence[str]) -> EodBatch:
        batch = EodBatch(provider=self.name)
        for symbol in dict.fromkeys(symbols):
            if symbol in self.unpriced:
                batch.missing.append(symbol)
                batch.errors[symbol] = "sandbox: symbol configured as unpriced"
                continue
            batch.quotes[symbol] = EodQuote(
                symbol=symbol,
                asof=trading_day,
                close=to_price(sandbox_close(symbol, trading_day)),
                prev_close=to_price(sandbox_close(symbol, previous_weekday(trading_day))),
            )
        return batch

    def latest(self, trading_day: date, symbols: Sequence[str], now: datetime) -> dict[str, LiveQuote]:
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        bucket = epoch + ((now - epoch) // LIVE_BUCKET) * LIVE_BUCKET
        quotes: dict[str, LiveQuote] = {}
        for symbol in dict.fromkeys(symbols):
            if symbol in self.unpriced:
                continue
            last_close = sandbox_close(symbol, previous_weekday(trading_day))
            move = LIVE_MAX_MOVE * (2 * _unit(f"{symbol}|{bucket.isoformat()}") - 1)
            price = (last_close * (1 + move)).quantize(CENT, rounding=ROUND_HALF_EVEN)
            quotes[symbol] = LiveQuote(symbol=symbol, price=to_price(price), at=bucket)
        return quotes


def sandbox_close(symbol: str, day: date) -> Decimal:
    """The sandbox close of `symbol` on `day`, in cents."""
    base = BASE_MIN + (BASE_MAX - BASE_MIN) * _unit(symbol)
    drift = MAX_DRIFT * (2 * _unit(f"{symbol}|{day.isoformat()}") - 1)
    return (base * (1 + drift)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def previous_weekday(day: date) -> date:
    previous = day - timedelta(days=1)
    while previous.weekday() >= 5:  # Saturday, Sunday
        previous -= timedelta(days=1)
    return previous


def _unit(key: str) -> Decimal:
    """A number in [0, 1] derived from sha256(key)."""
    digest = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
    return Decimal(digest % (_SCALE + 1)) / _SCALE
