"""EOD price providers: the deterministic sandbox, Yahoo (yfinance) parsing, Alpha Vantage
over a local HTTP server, price validation, the circuit breaker and the provider chain.

Nothing here touches the internet: yfinance's `download` is replaced by a fake returning
frames built in yfinance's exact shape (or, in one test, the real `yfinance.download`
runs with its per-ticker fetch faked), and Alpha Vantage is a ThreadingHTTPServer on
127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pandas as pd
import pytest

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.providers.eod import (
    AlphaVantageEodProvider,
    CircuitBreaker,
    EodProviderError,
    EodRateLimitedError,
    InvalidPriceError,
    SandboxEodProvider,
    YahooEodProvider,
    build_eod_providers,
    to_price,
)
from myapi.providers.eod.base import LatestPriceProvider
from myapi.providers.eod.sandbox import previous_weekday, sandbox_close
from scripts.devstack import ROOT
from tests.support.http_server import LoopbackFake, LoopbackServer, running, send_json

MONDAY = date(2026, 11, 23)  # trading day under test
FRIDAY = date(2026, 11, 20)  # the session before it
SIX_PLACES = Decimal("0.000001")

# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("169.2100", Decimal("169.210000")),
        (Decimal("12.3456789"), Decimal("12.345679")),
        (42, Decimal("42.000000")),
        (189.98, Decimal("189.980000")),
        (np.float64(0.5), Decimal("0.500000")),
    ],
)
def test_a_price_is_a_positive_finite_decimal_at_six_places(value: object, expected: Decimal) -> None:
    price = to_price(value)
    assert isinstance(price, Decimal)
    assert price == expected
    assert price.as_tuple().exponent == -6


@pytest.mark.parametrize(
    "value",
    [
        None,
        float("nan"),
        np.nan,
        float("inf"),
        -math.inf,
        0,
        0.0,
        np.float64(0),
        -1,
        "-3.5",
        "0.0000",
        "abc",
        "",
        "NaN",
        Decimal("Infinity"),
        Decimal("sNaN"),
        True,
        0.0000004,  # rounds to zero at 6 places
        10**12,  # does not fit numeric(18,6)
        object(),
    ],
)
def test_anything_else_is_not_a_price(value: object) -> None:
    with pytest.raises(InvalidPriceError):
        to_price(value)


# --- sandbox ---------------------------------------------------------------------------


def test_sandbox_is_deterministic_and_valid() -> None:
    symbols = ["AAPL", "MSFT", "NVDA", "TSLA", "BRK.B"]
    first = SandboxEodProvider().fetch(MONDAY, symbols)
    second = SandboxEodProvider().fetch(MONDAY, list(reversed(symbols)))
    assert first.provider == "sandbox"
    assert first.missing == [] and first.errors == {}
    assert set(first.quotes) == set(symbols)
    for symbol in symbols:
        quote = first.quotes[symbol]
        assert quote == second.quotes[symbol]
        assert quote.asof == MONDAY and quote.symbol == symbol and quote.vendor_rev == 0
        assert isinstance(quote.close, Decimal) and quote.prev_close is not None
        for price in (quote.close, quote.prev_close):
            assert price > 0 and price.is_finite()
            assert price == price.quantize(Decimal("0.01"))  # cents
            assert price.as_tuple().exponent == -6  # validated at the DB scale
            assert Decimal("19.40") <= price <= Decimal("515.00")  # 20..500 +/- 3 %
        # prev_close is the close of the previous weekday (Friday for a Monday).
        assert quote.prev_close == sandbox_close(symbol, FRIDAY)
        assert quote.close == sandbox_close(symbol, MONDAY)


def test_sandbox_prices_move_from_day_to_day_within_the_drift() -> None:
    symbols = [f"SYM{i}" for i in range(50)]
    batch = SandboxEodProvider().fetch(MONDAY, symbols)
    moves = [q.close / q.prev_close - 1 for q in batch.quotes.values() if q.prev_close]
    assert any(move > 0 for move in moves) and any(move < 0 for move in moves)
    # Both closes are base * (1 +/- 3 %), so a day's move is within about +/- 6.2 %.
    assert all(abs(move) < Decimal("0.07") for move in moves)
    tuesday = SandboxEodProvider().fetch(MONDAY + timedelta(days=1), ["SYM0"]).quotes["SYM0"]
    assert tuesday.prev_close == batch.quotes["SYM0"].close


def test_sandbox_previous_weekday_skips_weekends() -> None:
    assert previous_weekday(MONDAY) == FRIDAY
    assert previous_weekday(date(2026, 11, 24)) == MONDAY
    assert previous_weekday(date(2026, 11, 22)) == FRIDAY  # a Sunday


def test_sandbox_is_the_same_in_another_process() -> None:
    code = (
        "from datetime import date\n"
        "from myapi.providers.eod.sandbox import sandbox_close\n"
        "print(sandbox_close('AAPL', date(2026, 11, 23)), sandbox_close('ZZZ', date(2030, 1, 2)))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [str(sandbox_close("AAPL", MONDAY)), str(sandbox_close("ZZZ", date(2030, 1, 2)))]


def test_sandbox_dedupes_and_can_pretend_a_symbol_is_unpriced() -> None:
    batch = SandboxEodProvider(unpriced={"GONE"}).fetch(MONDAY, ["AAPL", "GONE", "AAPL"])
    assert list(batch.quotes) == ["AAPL"]
    assert batch.missing == ["GONE"] and "unpriced" in batch.errors["GONE"]


# --- yahoo: frames in yfinance's shape ------------------------------------------------

FIELDS = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]


def history_frame(closes: dict[date, float], tz: str | None = None) -> pd.DataFrame:
    """One ticker as `Ticker.history(auto_adjust=False, actions=False)` returns it."""
    days = sorted(closes)
    index = pd.DatetimeIndex([pd.Timestamp(day) for day in days], name="Date")
    if tz is not None:
        index = index.tz_localize(tz)
    close = [closes[day] for day in days]
    return pd.DataFrame(
        {
            "Open": [c * 0.99 for c in close],
            "High": [c * 1.01 for c in close],
            "Low": [c * 0.98 for c in close],
            "Close": close,
            "Adj Close": [c * 0.995 for c in close],
            "Volume": [1_000_000 for _ in close],
        },
        index=index,
    )[FIELDS]


def download_frame(per_ticker: dict[str, dict[date, float]]) -> pd.DataFrame:
    """What `yf.download(tickers, group_by="ticker", auto_adjust=False)` returns: the
    per-ticker frames reindexed on the union of their dates and concatenated under
    MultiIndex columns (Ticker, Price)."""
    frames = {ticker: history_frame(closes) for ticker, closes in per_ticker.items()}
    index = None
    for frame in frames.values():
        index = frame.index if index is None else index.union(frame.index)
    aligned = [frame.reindex(index) for frame in frames.values()]
    return pd.concat(aligned, axis=1, sort=True, keys=list(frames), names=["Ticker", "Price"])


def two_days(friday: float, monday: float) -> dict[date, float]:
    return {
        date(2026, 11, 18): friday * 0.97,
        date(2026, 11, 19): friday * 0.98,
        FRIDAY: friday,
        MONDAY: monday,
    }


@dataclass
class FakeDownload:
    """Stands in for `yfinance.download`; records every call."""

    frame: Any = None
    error: BaseException | None = None
    logged: list[str] = field(default_factory=list)  # what yfinance would log on failures
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        assert not args, "the provider passes keywords only"
        self.calls.append(kwargs)
        for message in self.logged:
            logging.getLogger("yfinance").error(message)
        if self.error is not None:
            raise self.error
        return self.frame


def test_yahoo_parses_a_multi_ticker_frame_with_one_call() -> None:
    frame = download_frame(
        {"AAPL": two_days(228.02, 229.87), "MSFT": two_days(415.5, 417.25), "NVDA": two_days(141.95, 138.8)}
    )
    assert frame.columns.names == ["Ticker", "Price"] and frame.index.name == "Date"
    fake = FakeDownload(frame=frame)
    batch = YahooEodProvider(download=fake, timeout_s=7.5).fetch(MONDAY, ["AAPL", "MSFT", "NVDA"])

    assert batch.provider == "yfinance" and batch.missing == [] and batch.errors == {}
    aapl = batch.quotes["AAPL"]
    assert aapl.asof == MONDAY
    assert aapl.close == Decimal("229.870000") and aapl.prev_close == Decimal("228.020000")
    assert batch.quotes["NVDA"].close == Decimal("138.800000")
    assert batch.quotes["NVDA"].prev_close == Decimal("141.950000")
    assert all(q.close.as_tuple().exponent == -6 for q in batch.quotes.values())

    assert len(fake.calls) == 1
    assert fake.calls[0] == {
        "tickers": ["AAPL", "MSFT", "NVDA"],
        "start": MONDAY - timedelta(days=10),
        "end": MONDAY + timedelta(days=1),
        "group_by": "ticker",
        "auto_adjust": False,
        "actions": True,
        "progress": False,
        "threads": False,
        "timeout": 7.5,
    }


def test_yahoo_float32_noise_does_not_leak_into_prices() -> None:
    # Yahoo stores float32: 229.87 arrives as 229.8699951171875.
    noisy_monday = float(np.float32(229.87))
    noisy_friday = float(np.float32(0.1234))
    assert noisy_monday == 229.8699951171875
    frame = download_frame(
        {"AAPL": {FRIDAY: noisy_friday, MONDAY: noisy_monday}, "IBM": two_days(168.29, 169.21)}
    )
    batch = YahooEodProvider(download=FakeDownload(frame=frame)).fetch(MONDAY, ["AAPL", "IBM"])
    assert batch.quotes["AAPL"].close == Decimal("229.870000")
    assert batch.quotes["AAPL"].prev_close == Decimal("0.123400")
    assert batch.quotes["IBM"].close == Decimal("169.210000")  # plain float64 unchanged


def test_yahoo_makes_exactly_one_call_for_a_hundred_symbols() -> None:
    symbols = [f"S{i:03d}" for i in range(100)]
    fake = FakeDownload(frame=download_frame({s: two_days(10 + i, 11 + i) for i, s in enumerate(symbols)}))
    batch = YahooEodProvider(download=fake).fetch(MONDAY, symbols)
    assert len(fake.calls) == 1
    assert fake.calls[0]["tickers"] == symbols
    assert len(batch.quotes) == 100 and batch.missing == []
    assert batch.quotes["S042"].close == Decimal("53.000000")


def test_yahoo_single_ticker_frames_flat_or_multiindex() -> None:
    flat = history_frame(two_days(100.0, 101.5))
    batch = YahooEodProvider(download=FakeDownload(frame=flat)).fetch(MONDAY, ["IBM"])
    assert batch.quotes["IBM"].close == Decimal("101.500000")
    assert batch.quotes["IBM"].prev_close == Decimal("100.000000")

    nested = download_frame({"IBM": two_days(100.0, 101.5)})
    again = YahooEodProvider(download=FakeDownload(frame=nested)).fetch(MONDAY, ["IBM"])
    assert again.quotes["IBM"] == batch.quotes["IBM"]


def test_yahoo_empty_frame_means_every_symbol_is_missing() -> None:
    for empty in (pd.DataFrame(), None):
        batch = YahooEodProvider(download=FakeDownload(frame=empty)).fetch(MONDAY, ["AAPL", "MSFT"])
        assert batch.quotes == {}
        assert batch.missing == ["AAPL", "MSFT"]
        assert set(batch.errors) == {"AAPL", "MSFT"} and all(batch.errors.values())


@pytest.mark.parametrize(
    ("bad_close", "reason"),
    [(float("nan"), "NaN"), (0.0, "non-positive"), (-4.2, "non-positive"), (math.inf, "non-finite")],
)
def test_yahoo_unusable_close_is_a_missing_symbol_with_a_reason(bad_close: float, reason: str) -> None:
    frame = download_frame({"AAPL": two_days(228.02, 229.87), "BAD": two_days(50.0, bad_close)})
    batch = YahooEodProvider(download=FakeDownload(frame=frame)).fetch(MONDAY, ["AAPL", "BAD"])
    assert list(batch.quotes) == ["AAPL"]
    assert batch.missing == ["BAD"]
    assert reason in batch.errors["BAD"] and MONDAY.isoformat() in batch.errors["BAD"]


def test_yahoo_no_row_for_the_trading_day_or_an_absent_ticker_is_missing() -> None:
    # GOOG's Monday bar is not published yet; XYZ is not in the response at all.
    frame = download_frame({"AAPL": two_days(228.02, 229.87), "GOOG": {FRIDAY: 170.0}})
    batch = YahooEodProvider(download=FakeDownload(frame=frame)).fetch(MONDAY, ["AAPL", "GOOG", "XYZ"])
    assert list(batch.quotes) == ["AAPL"]
    assert batch.missing == ["GOOG", "XYZ"]
    # The union index gives GOOG a NaN Monday row: still missing, never a price.
    assert "NaN" in batch.errors["GOOG"]
    assert "no data" in batch.errors["XYZ"]

    only_friday = download_frame({"GOOG": {FRIDAY: 170.0}})
    batch = YahooEodProvider(download=FakeDownload(frame=only_friday)).fetch(MONDAY, ["GOOG"])
    assert batch.missing == ["GOOG"] and "no row dated 2026-11-23" in batch.errors["GOOG"]


def test_yahoo_prev_close_skips_nan_padding_rows() -> None:
    # A row exists for another ticker on a day AAPL has none: AAPL gets a NaN row that day.
    frame = download_frame(
        {"AAPL": {date(2026, 11, 19): 225.0, MONDAY: 229.87}, "SHOP": two_days(150.0, 152.0)}
    )
    batch = YahooEodProvider(download=FakeDownload(frame=frame)).fetch(MONDAY, ["AAPL", "SHOP"])
    assert batch.quotes["AAPL"].prev_close == Decimal("225.000000")
    assert batch.quotes["SHOP"].prev_close == Decimal("150.000000")


def test_yahoo_unusable_prev_close_gives_none_not_a_price() -> None:
    frame = download_frame({"AAPL": {FRIDAY: -1.0, MONDAY: 229.87}, "NEW": {MONDAY: 12.0}})
    batch = YahooEodProvider(download=FakeDownload(frame=frame)).fetch(MONDAY, ["AAPL", "NEW"])
    assert batch.quotes["AAPL"].prev_close is None
    assert batch.quotes["NEW"].prev_close is None and batch.quotes["NEW"].close == Decimal("12.000000")


def test_yahoo_download_raising_is_a_provider_error() -> None:
    fake = FakeDownload(error=ConnectionError("could not resolve host"))
    with pytest.raises(EodProviderError) as excinfo:
        YahooEodProvider(download=fake).fetch(MONDAY, ["AAPL"])
    assert not isinstance(excinfo.value, EodRateLimitedError)


def test_yahoo_rate_limit_is_a_rate_limited_error() -> None:
    from yfinance.exceptions import YFRateLimitError  # type: ignore[import-untyped]

    errors: list[BaseException] = [
        YFRateLimitError(),
        RuntimeError("429 Client Error: Too Many Requests for url"),
        ValueError("Rate limited. Try after a while."),
    ]
    for error in errors:
        with pytest.raises(EodRateLimitedError):
            YahooEodProvider(download=FakeDownload(error=error)).fetch(MONDAY, ["AAPL"])


def test_yahoo_rate_limit_swallowed_by_yfinance_is_detected_from_its_log() -> None:
    # yfinance catches the error per ticker, logs it and returns an empty frame.
    fake = FakeDownload(
        frame=pd.DataFrame(),
        logged=["['AAPL', 'MSFT']: YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')"],
    )
    with pytest.raises(EodRateLimitedError):
        YahooEodProvider(download=fake).fetch(MONDAY, ["AAPL", "MSFT"])


def test_yahoo_logged_ticker_errors_become_the_reasons() -> None:
    fake = FakeDownload(
        frame=download_frame({"AAPL": two_days(228.02, 229.87)}),
        logged=["['ZZZZ']: YFPricesMissingError('possibly delisted; no price data found')"],
    )
    batch = YahooEodProvider(download=fake).fetch(MONDAY, ["AAPL", "ZZZZ"])
    assert list(batch.quotes) == ["AAPL"]
    assert "possibly delisted" in batch.errors["ZZZZ"]


def test_yahoo_empty_batch_makes_no_call_and_garbage_is_an_error() -> None:
    fake = FakeDownload(frame=pd.DataFrame())
    assert YahooEodProvider(download=fake).fetch(MONDAY, []).quotes == {}
    assert fake.calls == []
    with pytest.raises(EodProviderError):
        YahooEodProvider(download=FakeDownload(frame={"AAPL": 1.0})).fetch(MONDAY, ["AAPL"])


class _FakeTicker:
    """Replaces yfinance's Ticker inside the real `yfinance.download`: answers history()
    from a table (tz-aware, as Yahoo sends it) or raises, without any network."""

    table: dict[str, Any] = {}

    def __init__(self, ticker: str, session: Any = None) -> None:
        self.ticker = ticker
        self._price_history = None

    def history(self, **kwargs: Any) -> pd.DataFrame:
        outcome = self.table[self.ticker]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


@pytest.fixture
def real_download(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_FakeTicker]]:
    """The real yfinance.download (its concat/reindex/logging), with the per-ticker fetch
    and the HTTP session replaced: nothing can reach the network."""
    import yfinance.multi  # type: ignore[import-untyped]

    monkeypatch.setattr(yfinance.multi, "Ticker", _FakeTicker)
    monkeypatch.setattr(yfinance.multi, "new_session", lambda: None)
    monkeypatch.setattr(yfinance.multi, "YfData", lambda session=None: None)
    monkeypatch.setattr(_FakeTicker, "table", {})
    yield _FakeTicker


def test_yahoo_against_the_real_download_assembly(real_download: type[_FakeTicker]) -> None:
    from yfinance.exceptions import YFPricesMissingError

    ny = "America/New_York"
    real_download.table.update(
        {
            "AAPL": history_frame(two_days(228.02, 229.87), tz=ny),
            "MSFT": history_frame(two_days(415.5, 417.25), tz=ny),
            "GONE": YFPricesMissingError("$GONE", "(1d 2026-11-13 -> 2026-11-24)"),
        }
    )
    batch = YahooEodProvider().fetch(MONDAY, ["AAPL", "MSFT", "GONE"])  # default download
    assert batch.quotes["AAPL"].close == Decimal("229.870000")
    assert batch.quotes["MSFT"].prev_close == Decimal("415.500000")
    assert batch.missing == ["GONE"] and "no price data found" in batch.errors["GONE"]


def test_yahoo_rate_limit_inside_the_real_download(real_download: type[_FakeTicker]) -> None:
    from yfinance.exceptions import YFRateLimitError

    real_download.table.update({"AAPL": YFRateLimitError(), "MSFT": YFRateLimitError()})
    with pytest.raises(EodRateLimitedError):
        YahooEodProvider().fetch(MONDAY, ["AAPL", "MSFT"])


# --- alpha vantage over a local HTTP server ----------------------------------------------

AV_KEY = "test-av-key-123"
SLOW_SECONDS = 1.5


def av_daily(symbol: str, closes: dict[str, str]) -> dict[str, Any]:
    """TIME_SERIES_DAILY in Alpha Vantage's recorded shape (newest first, strings)."""
    series = {
        day: {
            "1. open": close,
            "2. high": close,
            "3. low": close,
            "4. close": close,
            "5. volume": "4023114",
        }
        for day, close in sorted(closes.items(), reverse=True)
    }
    return {
        "Meta Data": {
            "1. Information": "Daily Prices (open, high, low, close) and Volumes",
            "2. Symbol": symbol,
            "3. Last Refreshed": max(closes),
            "4. Output Size": "Compact",
            "5. Time Zone": "US/Eastern",
        },
        "Time Series (Daily)": series,
    }


AV_ANSWERS: dict[str, tuple[int, Any]] = {
    "IBM": (
        200,
        av_daily("IBM", {"2026-11-19": "166.0100", "2026-11-20": "168.2900", "2026-11-23": "169.2100"}),
    ),
    "AAPL": (200, av_daily("AAPL", {"2026-11-20": "228.0200", "2026-11-23": "229.8700"})),
    "LATE": (200, av_daily("LATE", {"2026-11-19": "10.0000", "2026-11-20": "11.0000"})),
    "ZERO": (200, av_daily("ZERO", {"2026-11-20": "1.0000", "2026-11-23": "0.0000"})),
    "BOGUS": (
        200,
        {
            "Error Message": "Invalid API call. Please retry or visit the documentation "
            "(https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY."
        },
    ),
    "NOTE": (
        200,
        {
            "Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls "
            "per minute and 500 calls per day."
        },
    ),
    "INFO": (
        200,
        {
            "Information": "Thank you for using Alpha Vantage! Our standard API rate limit is "
            "25 requests per day."
        },
    ),
    "THROTTLE": (429, {"error": "too many requests"}),
    "BOOM": (500, {"error": "internal"}),
    "GARBAGE": (200, "<html>maintenance</html>"),
}


@dataclass
class FakeAlphaVantage(LoopbackFake):
    requests: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with fake.lock:
                    fake.requests.append({"path": url.path, **query})
                symbol = query.get("symbol", "")
                if symbol == "SLOW":
                    time.sleep(SLOW_SECONDS)
                    status, body = AV_ANSWERS["IBM"]
                elif url.path != "/query" or query.get("apikey") != AV_KEY:
                    status, body = 200, {"Error Message": "the parameter apikey is invalid or missing."}
                else:
                    status, body = AV_ANSWERS.get(
                        symbol, (200, {"Error Message": "Invalid API call for TIME_SERIES_DAILY."})
                    )
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                send_json(self, status, data)

        self.server = LoopbackServer(Handler)


@pytest.fixture(scope="module")
def fake_av() -> Iterator[FakeAlphaVantage]:
    with running(FakeAlphaVantage()) as server:
        yield server


@pytest.fixture
def av(fake_av: FakeAlphaVantage) -> Iterator[AlphaVantageEodProvider]:
    with fake_av.lock:
        fake_av.requests.clear()
    with httpx.Client(timeout=httpx.Timeout(0.5)) as http:
        yield AlphaVantageEodProvider(http=http, base_url=fake_av.base_url + "/", api_key=AV_KEY)


def test_alphavantage_parses_daily_closes_one_request_per_symbol(
    av: AlphaVantageEodProvider, fake_av: FakeAlphaVantage
) -> None:
    batch = av.fetch(MONDAY, ["IBM", "AAPL", "IBM"])
    assert batch.provider == "alphavantage" and batch.missing == []
    ibm = batch.quotes["IBM"]
    assert ibm.asof == MONDAY
    assert ibm.close == Decimal("169.210000") and ibm.prev_close == Decimal("168.290000")
    assert batch.quotes["AAPL"].prev_close == Decimal("228.020000")
    assert fake_av.requests == [
        {
            "path": "/query",
            "function": "TIME_SERIES_DAILY",
            "symbol": s,
            "outputsize": "compact",
            "apikey": AV_KEY,
        }
        for s in ("IBM", "AAPL")
    ]


def test_alphavantage_unknown_or_unusable_symbols_are_missing(av: AlphaVantageEodProvider) -> None:
    batch = av.fetch(MONDAY, ["IBM", "BOGUS", "LATE", "ZERO"])
    assert list(batch.quotes) == ["IBM"]
    assert batch.missing == ["BOGUS", "LATE", "ZERO"]
    assert "Invalid API call" in batch.errors["BOGUS"]
    assert "no bar dated 2026-11-23" in batch.errors["LATE"]
    assert "non-positive" in batch.errors["ZERO"]


@pytest.mark.parametrize("symbol", ["NOTE", "INFO", "THROTTLE"])
def test_alphavantage_rate_limit_answers_stop_the_batch(av: AlphaVantageEodProvider, symbol: str) -> None:
    with pytest.raises(EodRateLimitedError):
        av.fetch(MONDAY, ["IBM", symbol, "AAPL"])


@pytest.mark.parametrize("symbol", ["BOOM", "GARBAGE"])
def test_alphavantage_http_errors_are_provider_errors(av: AlphaVantageEodProvider, symbol: str) -> None:
    with pytest.raises(EodProviderError) as excinfo:
        av.fetch(MONDAY, ["IBM", symbol])
    assert not isinstance(excinfo.value, EodRateLimitedError)


def test_alphavantage_timeout_is_a_provider_error(av: AlphaVantageEodProvider) -> None:
    started = time.monotonic()
    with pytest.raises(EodProviderError) as excinfo:
        av.fetch(MONDAY, ["SLOW"])
    assert time.monotonic() - started < SLOW_SECONDS
    assert not isinstance(excinfo.value, EodRateLimitedError)
    assert AV_KEY not in str(excinfo.value)


def test_alphavantage_unreachable_is_a_provider_error_without_the_key() -> None:
    with httpx.Client(timeout=1.0) as http:
        provider = AlphaVantageEodProvider(http=http, base_url="http://127.0.0.1:9", api_key=AV_KEY)
        with pytest.raises(EodProviderError) as excinfo:
            provider.fetch(MONDAY, ["IBM"])
    assert AV_KEY not in str(excinfo.value)


# --- circuit breaker -------------------------------------------------------------------


def state(breaker: CircuitBreaker) -> str:
    return breaker.state


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 23, 21, 15, tzinfo=UTC))


def test_breaker_opens_after_consecutive_failures(clock: FrozenClock) -> None:
    breaker = CircuitBreaker("yfinance", clock, failure_threshold=3, reset_after_s=60)
    assert state(breaker) == "closed" and breaker.allow()
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # a success resets the count
    breaker.record_failure()
    breaker.record_failure()
    assert state(breaker) == "closed" and breaker.allow()
    breaker.record_failure()
    assert state(breaker) == "open"
    assert not breaker.allow()
    clock.advance(timedelta(seconds=59))
    assert state(breaker) == "open" and not breaker.allow()


def test_breaker_half_open_allows_one_trial_then_closes_on_success(clock: FrozenClock) -> None:
    breaker = CircuitBreaker("yfinance", clock, failure_threshold=1, reset_after_s=60)
    breaker.record_failure()
    clock.advance(timedelta(seconds=60))
    assert state(breaker) == "half_open"
    assert breaker.allow()
    assert not breaker.allow()  # only one trial at a time
    breaker.record_success()
    assert state(breaker) == "closed"
    assert all(breaker.allow() for _ in range(5))


def test_breaker_half_open_failure_reopens_with_a_fresh_timer(clock: FrozenClock) -> None:
    breaker = CircuitBreaker("alphavantage", clock, failure_threshold=2, reset_after_s=300)
    breaker.record_failure()
    breaker.record_failure()
    clock.advance(timedelta(seconds=300))
    assert breaker.allow()
    breaker.record_failure()  # one failed trial is enough to re-open
    assert state(breaker) == "open" and not breaker.allow()
    clock.advance(timedelta(seconds=299))
    assert state(breaker) == "open"
    clock.advance(timedelta(seconds=1))
    assert state(breaker) == "half_open" and breaker.allow()


def test_breaker_a_trial_that_never_reports_back_is_retried(clock: FrozenClock) -> None:
    breaker = CircuitBreaker("yfinance", clock, failure_threshold=1, reset_after_s=60)
    breaker.record_failure()
    clock.advance(timedelta(seconds=60))
    assert breaker.allow()
    clock.advance(timedelta(seconds=59))
    assert not breaker.allow()
    clock.advance(timedelta(seconds=1))
    assert breaker.allow()


def test_breaker_late_failure_while_open_keeps_the_timer(clock: FrozenClock) -> None:
    breaker = CircuitBreaker("yfinance", clock, failure_threshold=1, reset_after_s=60)
    breaker.record_failure()
    clock.advance(timedelta(seconds=30))
    breaker.record_failure()  # a call started before the breaker opened
    clock.advance(timedelta(seconds=30))
    assert state(breaker) == "half_open"


def test_breaker_is_thread_safe(clock: FrozenClock) -> None:
    breaker = CircuitBreaker("yfinance", clock, failure_threshold=40, reset_after_s=60)
    barrier = threading.Barrier(50)

    def fail() -> None:
        barrier.wait()
        breaker.record_failure()

    threads = [threading.Thread(target=fail) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state(breaker) == "open" and breaker.consecutive_failures == 50

    clock.advance(timedelta(seconds=60))
    allowed: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(50)

    def try_call() -> None:
        barrier.wait()
        result = breaker.allow()
        with lock:
            allowed.append(result)

    threads = [threading.Thread(target=try_call) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 1


def test_breaker_rejects_nonsense_settings(clock: FrozenClock) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("x", clock, failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker("x", clock, reset_after_s=-1)


# --- the provider chain from settings ------------------------------------------------


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_settings_defaults_for_eod_providers() -> None:
    settings = _settings()
    assert settings.alphavantage_api_key == ""
    assert settings.alphavantage_base_url == "https://www.alphavantage.co"
    assert settings.eod_http_timeout_s == 10.0
    assert settings.eod_breaker_failures == 3
    assert settings.eod_breaker_reset_s == 300


def test_build_eod_providers_follows_the_settings() -> None:
    with httpx.Client() as http:
        sandbox = build_eod_providers(_settings(eod_provider="sandbox"), http)
        assert [type(p) for p in sandbox] == [SandboxEodProvider]

        yahoo_only = build_eod_providers(_settings(eod_provider="yfinance", eod_http_timeout_s=4.0), http)
        assert [p.name for p in yahoo_only] == ["yfinance"]
        assert isinstance(yahoo_only[0], YahooEodProvider) and yahoo_only[0].timeout_s == 4.0

        chain = build_eod_providers(
            _settings(
                eod_provider="yfinance", alphavantage_api_key="k", alphavantage_base_url="http://av.test"
            ),
            http,
        )
        assert [p.name for p in chain] == ["yfinance", "alphavantage"]
        fallback = chain[1]
        assert isinstance(fallback, AlphaVantageEodProvider)
        assert fallback.base_url == "http://av.test" and fallback.api_key == "k" and fallback.http is http


def test_yahoo_share_class_symbols_are_asked_with_a_dash_and_reported_with_a_dot() -> None:
    import pandas as pd

    from myapi.providers.eod.yahoo import YahooEodProvider

    seen: list[list[str]] = []
    day = date(2026, 11, 20)

    def download(**kwargs: object) -> pd.DataFrame:
        tickers = list(kwargs["tickers"])  # type: ignore[call-overload]
        seen.append(tickers)
        index = pd.DatetimeIndex([pd.Timestamp(2026, 11, 19), pd.Timestamp(2026, 11, 20)], name="Date")
        columns = pd.MultiIndex.from_tuples([(t, "Close") for t in tickers], names=["Ticker", "Price"])
        return pd.DataFrame([[480.5] * len(tickers), [482.25] * len(tickers)], index=index, columns=columns)

    batch = YahooEodProvider(download=download).fetch(day, ["BRK.B", "AAPL"])
    assert seen == [["BRK-B", "AAPL"]]
    assert set(batch.quotes) == {"BRK.B", "AAPL"}
    assert str(batch.quotes["BRK.B"].close) == "482.250000"


# --- latest prices (the baseline refresh) ------------------------------------------------
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 10:00 KST: before New York opens


def test_sandbox_latest_moves_with_time_and_is_the_same_at_the_same_instant() -> None:
    sandbox = SandboxEodProvider(unpriced=["NONE"])
    first = sandbox.latest(MONDAY, ["AAPL", "MSFT", "NONE"], NOW)
    assert set(first) == {"AAPL", "MSFT"}  # an unpriced symbol is absent
    again = SandboxEodProvider().latest(MONDAY, ["AAPL"], NOW + timedelta(minutes=4))
    assert again["AAPL"] == first["AAPL"]  # the same 5-minute bucket
    assert first["AAPL"].at == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    later = SandboxEodProvider().latest(MONDAY, ["AAPL"], NOW + timedelta(minutes=5))["AAPL"]
    assert later.at == NOW + timedelta(minutes=5)
    friday = sandbox_close("AAPL", FRIDAY)
    for quote in (first["AAPL"], later):
        assert abs(quote.price - friday) <= friday * Decimal("0.005") + Decimal("0.01")
        assert quote.price == quote.price.quantize(Decimal("0.000001"))


def test_alphavantage_gives_no_live_prices(av: AlphaVantageEodProvider) -> None:
    # GLOBAL_QUOTE has no instant, and a request per symbol every few minutes would spend
    # the quota the EOD fallback needs: the baseline refresh skips Alpha Vantage.
    assert not isinstance(av, LatestPriceProvider)
    assert isinstance(SandboxEodProvider(), LatestPriceProvider)
    assert isinstance(YahooEodProvider(download=FakeDownload()), LatestPriceProvider)


def test_yahoo_latest_is_the_last_minute_bar_pre_market_included() -> None:
    new_york = "America/New_York"
    stamps = pd.DatetimeIndex(
        [pd.Timestamp("2026-11-20 15:59", tz=new_york), pd.Timestamp("2026-11-20 19:59", tz=new_york),
         pd.Timestamp("2026-11-23 07:30", tz=new_york), pd.Timestamp("2026-11-23 07:31", tz=new_york)],
        name="Datetime",
    )  # fmt: skip
    frame = pd.concat(
        [
            pd.DataFrame({"Close": [229.87, 230.1, 231.5, np.nan]}, index=stamps),
            pd.DataFrame({"Close": [np.nan, np.nan, np.nan, np.nan]}, index=stamps),
        ],
        axis=1,
        keys=["AAPL", "MSFT"],
        names=["Ticker", "Price"],
    )
    download = FakeDownload(frame=frame)
    quotes = YahooEodProvider(download=download).latest(MONDAY, ["AAPL", "MSFT"], NOW)
    assert list(quotes) == ["AAPL"]  # MSFT has no valid bar: absent
    assert quotes["AAPL"].price == Decimal("231.500000")
    assert quotes["AAPL"].at == datetime(2026, 11, 23, 12, 30, tzinfo=UTC)  # 07:30 New York, pre-market
    [call] = download.calls
    assert call["interval"] == "1m" and call["prepost"] is True and call["tickers"] == ["AAPL", "MSFT"]
