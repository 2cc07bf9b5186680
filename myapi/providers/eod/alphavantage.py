"""Alpha Vantage daily closes (the fallback after Yahoo when ALPHAVANTAGE_API_KEY is set).

Alpha Vantage has no batch endpoint for daily bars, so each symbol is one request:

    GET {base_url}/query?function=TIME_SERIES_DAILY&symbol=SYM&outputsize=compact&apikey=KEY

`close` is `"4. close"` of the bar dated `trading_day`, `prev_close` that of the latest
earlier date present; both are parsed from the JSON strings straight into Decimal
(never through float).

Failures:

* `{"Note": ...}` / `{"Information": ...}` (how Alpha Vantage says "slow down", with
  HTTP 200) or HTTP 429 -> `EodRateLimitedError`. The batch stops there and the quotes
  gathered so far are discarded: the caller retries the whole batch later (or the
  breaker moves on to the next provider).
* `{"Error Message": ...}` (unknown symbol, bad call), no bar for `trading_day`, a
  payload without a daily series, or a close that is not a positive finite number ->
  that symbol is missing, with the reason in `errors`.
* transport errors, timeouts, other non-200 answers, a body that is not a JSON object
  -> `EodProviderError` for the whole batch.

The latest price (`latest`, the baseline refresh) is `"05. price"` of

    GET {base_url}/query?function=GLOBAL_QUOTE&symbol=SYM&apikey=KEY

(the last trade, as of the time of the call; one request per symbol); a symbol without a
valid price is left out, the same failures as above apply to the call.

The API key travels in the query string; it is redacted from every error message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from myapi.providers.eod.base import EodBatch, EodProviderError, EodQuote, EodRateLimitedError
from myapi.providers.eod.validation import InvalidPriceError, price_or_none, to_price

SERIES_KEY = "Time Series (Daily)"
CLOSE_KEY = "4. close"
RATE_LIMIT_KEYS = ("Note", "Information")
ERROR_KEY = "Error Message"


class AlphaVantageEodProvider:
    def __init__(self, http: httpx.Client, base_url: str, api_key: str, name: str = "alphavantage") -> None:
        self.name = name
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def fetch(self, trading_day: date, symbols: Sequence[str]) -> EodBatch:
        batch = EodBatch(provider=self.name)
        for symbol in dict.fromkeys(symbols):
            payload = self._daily_series(symbol)
            try:
                batch.quotes[symbol] = self._quote(symbol, trading_day, payload)
            except InvalidPriceError as exc:
                batch.missing.append(symbol)
                batch.errors[symbol] = str(exc)
        return batch

    def _daily_series(self, symbol: str) -> dict[str, Any]:
        params = {"function": "TIME_SERIES_DAILY", "symbol": symbol, "outputsize": "compact"}
        return self._query(symbol, params, SERIES_KEY)

    def _query(self, symbol: str, params: dict[str, str], payload_key: str) -> dict[str, Any]:
        params = {**params, "apikey": self.api_key}
        try:
            response = self.http.get(f"{self.base_url}/query", params=params)
        except httpx.HTTPError as exc:
            raise EodProviderError(
                self._redact(f"{self.name} {symbol}: {type(exc).__name__}: {exc}")
            ) from exc
        if response.status_code == 429:
            raise EodRateLimitedError(f"{self.name} {symbol}: HTTP 429")
        if response.status_code != 200:
            raise EodProviderError(f"{self.name} {symbol}: HTTP {response.status_code}")
        try:
            # Numbers (should any come unquoted) become Decimal, never float.
            body = json.loads(response.content, parse_float=Decimal)
        except ValueError as exc:
            raise EodProviderError(f"{self.name} {symbol}: invalid JSON") from exc
        if not isinstance(body, dict):
            raise EodProviderError(f"{self.name} {symbol}: unexpected JSON {type(body).__name__}")
        for key in RATE_LIMIT_KEYS:
            if key in body and payload_key not in body:
                raise EodRateLimitedError(self._redact(f"{self.name} {symbol}: {key}: {body[key]}"[:300]))
        return body

    def _quote(self, symbol: str, trading_day: date, body: dict[str, Any]) -> EodQuote:
        if ERROR_KEY in body:
            raise InvalidPriceError(self._redact(f"{ERROR_KEY}: {body[ERROR_KEY]}"[:300]))
        series = body.get(SERIES_KEY)
        if not isinstance(series, dict):
            raise InvalidPriceError(f"no {SERIES_KEY!r} in the response")
        bars: dict[date, Any] = {}
        for day_text, bar in series.items():
            try:
                day = date.fromisoformat(str(day_text))
            except ValueError:
                continue
            if isinstance(bar, dict):
                bars[day] = bar.get(CLOSE_KEY)
        if trading_day not in bars:
            latest = max(bars, default=None)
            raise InvalidPriceError(f"no bar dated {trading_day.isoformat()} (latest: {latest})")
        try:
            close = to_price(bars[trading_day])
        except InvalidPriceError as exc:
            raise InvalidPriceError(f"close on {trading_day.isoformat()}: {exc}") from exc
        earlier = [day for day in bars if day < trading_day]
        prev_close = price_or_none(bars[max(earlier)]) if earlier else None
        return EodQuote(symbol=symbol, asof=trading_day, close=close, prev_close=prev_close)

    def _redact(self, message: str) -> str:
        return message.replace(self.api_key, "***") if self.api_key else message
