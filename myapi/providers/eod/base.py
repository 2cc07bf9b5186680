"""The EOD price provider interface. Every provider answers for a batch of symbols and
one trading day, and says which symbols it could not price."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable


class EodProviderError(Exception):
    """The provider failed for the whole batch (network, HTTP error, bad payload)."""


class EodRateLimitedError(EodProviderError):
    """The provider asked us to slow down; retry later with backoff."""


@dataclass(frozen=True)
class EodQuote:
    symbol: str
    asof: date
    close: Decimal
    prev_close: Decimal | None
    vendor_rev: int = 0


@dataclass
class EodBatch:
    """What one provider call produced: valid quotes, and the symbols it did not price
    (absent, empty, non-finite or non-positive values all count as missing)."""

    provider: str
    quotes: dict[str, EodQuote] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # symbol -> why it is missing


class EodProvider(Protocol):
    name: str

    def fetch(self, trading_day: date, symbols: Sequence[str]) -> EodBatch:
        """Closes of `trading_day` (and the previous close) for `symbols`.
        Raises EodProviderError when the whole call failed."""
        ...


@dataclass(frozen=True)
class LiveQuote:
    """The latest price a provider has for a symbol (pre- and post-market included
    where the provider has them), and the instant it is from."""

    symbol: str
    price: Decimal
    at: datetime  # timezone-aware


@runtime_checkable
class LatestPriceProvider(Protocol):
    """A provider that also knows the current price (the baseline refresh uses it)."""

    name: str

    def latest(self, trading_day: date, symbols: Sequence[str], now: datetime) -> dict[str, LiveQuote]:
        """The latest price of each symbol it has one for (the others are absent), as
        the market stands before `trading_day`'s close. Raises EodProviderError when
        the whole call failed."""
        ...


@dataclass(frozen=True)
class PricedQuote:
    """A live quote with the provider it came from."""

    quote: LiveQuote
    source: str
