"""Yahoo Finance daily closes through `yfinance.download` (EOD_PROVIDER=yfinance).

One `download` call covers the whole batch (never one call per symbol from here; note
that yfinance itself still requests each ticker in turn, `threads=False`, each request
bounded by `timeout_s`). The window is [trading_day - 10 days, trading_day + 1 day) so
the previous session is in it across weekends and holidays.

yfinance rarely raises: offline, rate-limited or for an unknown ticker it logs an error
on the `yfinance` logger and returns an EMPTY (or all-NaN) frame. So:

* an empty frame, a ticker absent from it, no row dated `trading_day`, or a Close that
  is NaN/inf/<= 0 makes that symbol *missing*, with the reason in `errors` (never a
  price);
* the errors yfinance logs during our call are captured (this thread's records only)
  and appended to the reasons; when they mention rate limiting and nothing at all was
  priced, the call raises `EodRateLimitedError`;
* an exception from `download` is `EodRateLimitedError` when it is about rate limiting
  (YFRateLimitError, "Too Many Requests", "Rate limited"), else `EodProviderError`.

`close` is the Close of the row dated `trading_day`; `prev_close` is the Close of the
latest earlier row that has one (NaN rows, e.g. union-index padding of another
ticker's extra dates, are skipped); an unusable previous Close gives `prev_close=None`.
Closes are not dividend-adjusted (`auto_adjust=False`; Yahoo's Close is still adjusted
for later splits). The call asks for the actions too (`actions=True`): a row dated
`trading_day` with a non-zero "Stock Splits" (the ratio, 4.0 for a 4-for-1 split) or
"Dividends" (the amount per share) gives the quote a `corporate_action` (a split wins
over a dividend on the same day), which makes settlement hold the symbol-day for review.

The latest price (`latest`, the baseline refresh) is the last valid 1-minute Close of
one `download(period="5d", interval="1m", prepost=True)` for the batch: pre- and
post-market trades included, with the bar's own timestamp; the same failure rules.

Yahoo stores prices as float32 and sends them widened to float64 (229.87 arrives as
229.8699951171875). A float64 that is exactly a float32 is therefore read through its
shortest float32 form ("229.87") before validation, so the 6-place Decimal is 229.870000,
not 229.869995; any other float is read through its own shortest repr.
"""

from __future__ import annotations

import ast
import logging
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd

from myapi.providers.eod.base import (
    CorporateAction,
    EodBatch,
    EodProviderError,
    EodQuote,
    EodRateLimitedError,
    LiveQuote,
)
from myapi.providers.eod.validation import InvalidPriceError, price_or_none, to_price

DownloadFn = Callable[..., Any]

LOOKBACK_DAYS = 10
YFINANCE_LOGGER = "yfinance"
_RATE_LIMIT_MARKERS = ("too many requests", "rate limit", "ratelimit", "yfratelimiterror")
# yfinance's summary of failed tickers: "['AAPL', 'MSFT']: YFPricesMissingError(...)".
_FAILED_LINE = re.compile(r"^\s*(\[[^\]]*\]):\s*(.+)$", re.DOTALL)


class YahooEodProvider:
    def __init__(
        self, name: str = "yfinance", download: DownloadFn | None = None, timeout_s: float = 10.0
    ) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self._download = download

    def fetch(self, trading_day: date, symbols: Sequence[str]) -> EodBatch:
        wanted = list(dict.fromkeys(symbols))
        batch = EodBatch(provider=self.name)
        if not wanted:
            return batch
        download = self._download or _yfinance_download()
        # Yahoo writes share classes with a dash: BRK.B is BRK-B there.
        yahoo = {symbol: yahoo_ticker(symbol) for symbol in wanted}
        with _YfinanceLogCapture() as captured:
            frame = self._call(
                download,
                list(yahoo.values()),
                start=trading_day - timedelta(days=LOOKBACK_DAYS),
                end=trading_day + timedelta(days=1),
                actions=True,
            )

        tickers = list(yahoo.values())
        closes = self._columns(frame, tickers, "Close")
        splits = self._columns(frame, tickers, "Stock Splits", required=False)
        dividends = self._columns(frame, tickers, "Dividends", required=False)
        for symbol in wanted:
            series = closes.get(yahoo[symbol])
            if series is None:
                self._miss(batch, symbol, "no data in the response", captured)
                continue
            try:
                quote = _quote(symbol, trading_day, series)
            except InvalidPriceError as exc:
                self._miss(batch, symbol, str(exc), captured)
                continue
            action = _corporate_action(trading_day, splits.get(yahoo[symbol]), dividends.get(yahoo[symbol]))
            batch.quotes[symbol] = replace(quote, corporate_action=action) if action else quote

        if not batch.quotes and captured.rate_limited:
            raise EodRateLimitedError(f"{self.name}: rate limited: {captured.summary()}")
        return batch

    def latest(self, trading_day: date, symbols: Sequence[str], now: datetime) -> dict[str, LiveQuote]:
        wanted = list(dict.fromkeys(symbols))
        if not wanted:
            return {}
        download = self._download or _yfinance_download()
        yahoo = {symbol: yahoo_ticker(symbol) for symbol in wanted}
        with _YfinanceLogCapture() as captured:
            frame = self._call(
                download, list(yahoo.values()), period="5d", interval="1m", prepost=True, actions=False
            )
        closes = self._columns(frame, list(yahoo.values()), "Close")
        quotes: dict[str, LiveQuote] = {}
        for symbol in wanted:
            series = closes.get(yahoo[symbol])
            if series is None:
                continue
            bars = [(stamp, value) for stamp, value in series.items() if not _is_nan(value)]
            if not bars:
                continue
            stamp, value = max(bars, key=lambda bar: pd.Timestamp(bar[0]))
            price = price_or_none(_yahoo_number(value))
            at = pd.Timestamp(stamp)
            if price is not None and at.tzinfo is not None:
                quotes[symbol] = LiveQuote(symbol=symbol, price=price, at=at.to_pydatetime())
        if not quotes and captured.rate_limited:
            raise EodRateLimitedError(f"{self.name}: rate limited: {captured.summary()}")
        return quotes

    def _call(self, download: DownloadFn, tickers: list[str], *, actions: bool, **window: Any) -> Any:
        """One `download` for the batch (not dividend-adjusted, no threads, bounded by
        timeout_s; with the split/dividend columns when `actions`); rate limiting becomes
        EodRateLimitedError, any other exception EodProviderError."""
        try:
            return download(
                tickers=tickers,
                **window,
                group_by="ticker",
                auto_adjust=False,
                actions=actions,
                progress=False,
                threads=False,
                timeout=self.timeout_s,
            )
        except Exception as exc:
            if is_rate_limit(exc):
                raise EodRateLimitedError(f"{self.name}: rate limited: {exc!r}") from exc
            raise EodProviderError(f"{self.name}: download failed: {exc!r}") from exc

    def _columns(self, frame: Any, wanted: list[str], field: str, *, required: bool = True) -> dict[str, Any]:
        """symbol -> its `field` series (only the symbols present in the frame). A
        flat frame without the field is an error when `required` (Close), else empty."""
        if frame is None:
            return {}
        if not isinstance(frame, pd.DataFrame):
            raise EodProviderError(f"{self.name}: download returned {type(frame).__name__}, not a DataFrame")
        if frame.empty:
            return {}
        by_upper = {symbol.upper(): symbol for symbol in wanted}
        columns = frame.columns
        if isinstance(columns, pd.MultiIndex):
            if columns.nlevels != 2:
                raise EodProviderError(f"{self.name}: unexpected {columns.nlevels}-level columns")
            # group_by="ticker" gives (Ticker, Price); tolerate (Price, Ticker) too.
            ticker_level = 1 if "Close" in columns.get_level_values(0) else 0
            field_level = 1 - ticker_level
            result: dict[str, Any] = {}
            for column in columns:
                if column[field_level] != field:
                    continue
                symbol = by_upper.get(str(column[ticker_level]).upper())
                if symbol is not None:
                    result[symbol] = frame[column]
            return result
        # Flat columns: one ticker (multi_level_index=False).
        if field not in columns:
            if not required:
                return {}
            raise EodProviderError(f"{self.name}: response has no {field} column")
        if len(wanted) != 1:
            raise EodProviderError(f"{self.name}: flat columns for a {len(wanted)}-symbol batch")
        return {wanted[0]: frame[field]}

    def _miss(self, batch: EodBatch, symbol: str, reason: str, captured: _YfinanceLogCapture) -> None:
        logged = captured.for_symbol(symbol)
        if logged:
            reason = f"{reason} (yfinance: {logged})"
        batch.missing.append(symbol)
        batch.errors[symbol] = reason


def _quote(symbol: str, trading_day: date, series: Any) -> EodQuote:
    """The quote of `trading_day` from one ticker's Close series, or InvalidPriceError."""
    rows: list[tuple[date, Any]] = sorted(
        ((_row_date(stamp), value) for stamp, value in series.items()), key=lambda row: row[0]
    )
    today = [value for day, value in rows if day == trading_day]
    if not today:
        latest = max((day for day, value in rows if not _is_nan(value)), default=None)
        raise InvalidPriceError(f"no row dated {trading_day.isoformat()} (latest: {latest})")
    usable = [value for value in today if not _is_nan(value)]
    try:
        close = to_price(_yahoo_number(usable[-1] if usable else today[-1]))
    except InvalidPriceError as exc:
        raise InvalidPriceError(f"Close on {trading_day.isoformat()}: {exc}") from exc
    earlier = [value for day, value in rows if day < trading_day and not _is_nan(value)]
    prev_close = price_or_none(_yahoo_number(earlier[-1])) if earlier else None
    return EodQuote(symbol=symbol, asof=trading_day, close=close, prev_close=prev_close)


def _corporate_action(trading_day: date, splits: Any, dividends: Any) -> CorporateAction | None:
    """The split (ratio) or dividend (amount per share) Yahoo reports on `trading_day`,
    if any: 0 (or NaN, 1 for a split) means none; a split wins over a dividend."""
    split = _action_value(trading_day, splits)
    if split is not None and split != 1:
        return CorporateAction(kind="SPLIT", value=split)
    dividend = _action_value(trading_day, dividends)
    if dividend is not None:
        return CorporateAction(kind="DIVIDEND", value=dividend)
    return None


def _action_value(trading_day: date, series: Any) -> Decimal | None:
    if series is None:
        return None
    for stamp, value in series.items():
        if _row_date(stamp) == trading_day and not _is_nan(value):
            number = price_or_none(_yahoo_number(value))  # positive and finite, or None
            if number is not None:
                return number
    return None


def _yahoo_number(value: Any) -> Any:
    """A float that came from Yahoo's float32 storage, as its shortest float32 text."""
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isfinite(number):
            narrow = np.float32(number)
            if float(narrow) == number:
                return str(narrow)
    return value


def _row_date(stamp: Any) -> date:
    """The calendar date of an index entry (a Timestamp, naive or in the exchange's zone)."""
    if isinstance(stamp, datetime):
        return stamp.date()
    if isinstance(stamp, date):
        return stamp
    return pd.Timestamp(stamp).date()  # type: ignore[no-any-return]


def _is_nan(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def is_rate_limit(exc: BaseException) -> bool:
    """Does this exception (or its cause) say the vendor is rate-limiting us?"""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names = {cls.__name__ for cls in type(current).__mro__}
        if "YFRateLimitError" in names or mentions_rate_limit(f"{type(current).__name__} {current}"):
            return True
        current = current.__cause__ or current.__context__
    return False


def mentions_rate_limit(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in _RATE_LIMIT_MARKERS)


def _yfinance_download() -> DownloadFn:
    import yfinance  # type: ignore[import-untyped]

    download: DownloadFn = yfinance.download
    return download


class _YfinanceLogCapture(logging.Handler):
    """Collects the ERROR records the `yfinance` logger emits in this thread while
    active (yfinance reports failed tickers there instead of raising)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self._thread = threading.get_ident()
        self.messages: list[str] = []
        self._by_symbol: dict[str, list[str]] = {}

    def __enter__(self) -> _YfinanceLogCapture:
        logging.getLogger(YFINANCE_LOGGER).addHandler(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        logging.getLogger(YFINANCE_LOGGER).removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self._thread:
            return
        try:
            message = record.getMessage().strip()
        except Exception:  # a malformed record must not break the fetch
            return
        if not message:
            return
        self.messages.append(message)
        match = _FAILED_LINE.match(message)
        if match is None:
            return
        try:
            tickers = ast.literal_eval(match.group(1))
        except (ValueError, SyntaxError):
            return
        if isinstance(tickers, list):
            for ticker in tickers:
                self._by_symbol.setdefault(str(ticker).upper(), []).append(match.group(2).strip())

    @property
    def rate_limited(self) -> bool:
        return any(mentions_rate_limit(message) for message in self.messages)

    def for_symbol(self, symbol: str) -> str:
        return "; ".join(self._by_symbol.get(symbol.upper(), []))[:300]

    def summary(self) -> str:
        return " | ".join(self.messages)[:500]


def yahoo_ticker(symbol: str) -> str:
    """Our symbol as Yahoo spells it (`BRK.B` -> `BRK-B`)."""
    return symbol.replace(".", "-")
