"""The EOD price provider interface. Every provider answers for a batch of symbols and
one trading day, and says which symbols it could not price."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable


class EodProviderError(Exception):
    """The provider failed for the whole batch (network, HTTP error, bad payload)."""


class EodRateLimitedError(EodProviderError):
    """The provider asked us to slow down; retry later with backoff."""


CorporateActionKind = Literal["SPLIT", "DIVIDEND"]


@dataclass(frozen=True)
class CorporateAction:
    """What a provider reports happened to a symbol on the quote's day: a SPLIT
    (`value`: new shares per old share, e.g. 4 for a 4-for-1 split, 0.1 for a 1-for-10
    reverse split) or a DIVIDEND going ex (`value`: the amount per share). Settlement
    holds such a symbol-day for review (myapi/settlement: corporate actions)."""

    kind: CorporateActionKind
    value: Decimal

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "value": str(self.value)}


@dataclass(frozen=True)
class EodQuote:
    symbol: str
    asof: date
    close: Decimal
    prev_close: Decimal | None
    vendor_rev: int = 0
    corporate_action: CorporateAction | None = None


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
