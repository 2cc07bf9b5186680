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

Corporate actions are simulated only when the provider is built with them
(`corporate_actions={(symbol, day): CorporateAction(...)}`, e.g. in a test or a demo): from
that day on the symbol's closes (and its latest prices) are scaled by the action — 1/ratio
for a SPLIT, (1 - amount / the previous close) for a DIVIDEND — and the quote of that day
reports the action, as Yahoo does. `prev_close` is the previous weekday's close as it was
(unadjusted). Without them the prices are the formula above.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from myapi.providers.eod.base import CorporateAction, EodBatch, EodQuote, LiveQuote
from myapi.providers.eod.validation import to_price

BASE_MIN = Decimal(20)
BASE_MAX = Decimal(500)
MAX_DRIFT = Decimal("0.03")
CENT = Decimal("0.01")
_SCALE = 10**9  # resolution of the hash -> [0, 1] mapping
LIVE_BUCKET = timedelta(minutes=5)
LIVE_MAX_MOVE = Decimal("0.005")


class SandboxEodProvider:
    def __init__(
        self,
        name: str = "sandbox",
        unpriced: Collection[str] = (),
        corporate_actions: Mapping[tuple[str, date], CorporateAction] | None = None,
    ) -> None:
        self.name = name
        # Symbols the sandbox pretends it has no data for (to exercise fallbacks).
        self.unpriced = frozenset(unpriced)
        # (symbol, day) -> the split or dividend the sandbox reports on that day.
        self.corporate_actions = dict(corporate_actions or {})

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
                close=to_price(self.close(symbol, trading_day)),
                prev_close=to_price(self.close(symbol, previous_weekday(trading_day))),
                corporate_action=self.corporate_actions.get((symbol, trading_day)),
            )
        return batch

    def close(self, symbol: str, day: date) -> Decimal:
        """The sandbox close of `symbol` on `day`, after the corporate actions of the
        symbol up to that day (the formula's close when there are none)."""
        factor = self._factor(symbol, day)
        raw = sandbox_close(symbol, day)
        return raw if factor == 1 else max((raw * factor).quantize(CENT, rounding=ROUND_HALF_EVEN), CENT)

    def _factor(self, symbol: str, day: date) -> Decimal:
        factor = Decimal(1)
        for (action_symbol, action_day), action in sorted(self.corporate_actions.items()):
            if action_symbol != symbol or action_day > day:
                continue
            if action.kind == "SPLIT":
                factor /= action.value
            else:  # DIVIDEND: the price drops by the amount on the ex-day
                before = self.close(symbol, previous_weekday(action_day))
                factor *= 1 - action.value / before
        return factor

    def latest(self, trading_day: date, symbols: Sequence[str], now: datetime) -> dict[str, LiveQuote]:
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        bucket = epoch + ((now - epoch) // LIVE_BUCKET) * LIVE_BUCKET
        quotes: dict[str, LiveQuote] = {}
        for symbol in dict.fromkeys(symbols):
            if symbol in self.unpriced:
                continue
            last_close = self.close(symbol, previous_weekday(trading_day))
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
