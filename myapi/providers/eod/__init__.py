"""End-of-day price providers behind one interface (`EodProvider`), the validation they
share, and a circuit breaker to put in front of each.

`build_eod_providers` returns the chain to try in order:

* EOD_PROVIDER=sandbox  -> [sandbox] (deterministic, offline)
* EOD_PROVIDER=yfinance -> [yfinance] + [alphavantage] when ALPHAVANTAGE_API_KEY is set
"""

from __future__ import annotations

import httpx

from myapi.core.config import Settings
from myapi.providers.eod.alphavantage import AlphaVantageEodProvider
from myapi.providers.eod.base import (
    EodBatch,
    EodProvider,
    EodProviderError,
    EodQuote,
    EodRateLimitedError,
)
from myapi.providers.eod.breaker import BreakerState, CircuitBreaker
from myapi.providers.eod.sandbox import SandboxEodProvider
from myapi.providers.eod.validation import InvalidPriceError, is_price, price_or_none, to_price
from myapi.providers.eod.yahoo import YahooEodProvider

__all__ = [
    "AlphaVantageEodProvider",
    "BreakerState",
    "CircuitBreaker",
    "EodBatch",
    "EodProvider",
    "EodProviderError",
    "EodQuote",
    "EodRateLimitedError",
    "InvalidPriceError",
    "SandboxEodProvider",
    "YahooEodProvider",
    "build_eod_providers",
    "is_price",
    "make_eod_http_client",
    "price_or_none",
    "to_price",
]


def make_eod_http_client(settings: Settings) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(settings.eod_http_timeout_s),
        follow_redirects=False,
        headers={"User-Agent": "oxuniverse/0.1"},
    )


def build_eod_providers(settings: Settings, http: httpx.Client) -> list[EodProvider]:
    """The providers to try, in order, for EOD_PROVIDER."""
    if settings.eod_provider == "sandbox":
        return [SandboxEodProvider()]
    chain: list[EodProvider] = [YahooEodProvider(timeout_s=settings.eod_http_timeout_s)]
    if settings.alphavantage_api_key:
        chain.append(
            AlphaVantageEodProvider(
                http=http,
                base_url=settings.alphavantage_base_url,
                api_key=settings.alphavantage_api_key,
            )
        )
    return chain
