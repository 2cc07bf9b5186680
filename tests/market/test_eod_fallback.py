"""EOD fetching falls back from an empty Yahoo to the sandbox and reports what is missing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy import text

from myapi.market.service import EodService, make_breakers
from myapi.providers.eod.sandbox import SandboxEodProvider
from myapi.providers.eod.yahoo import YahooEodProvider
from tests.support.days import DAY, MARKET_CLOSE
from tests.support.factories import open_day
from tests.support.pipeline import Pipeline


class EmptyYahoo:
    """Stands in for yfinance.download: yfinance returns an empty frame when it has nothing."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, **kwargs: Any) -> pd.DataFrame:
        self.calls += 1
        return pd.DataFrame()


def test_eod_falls_back_from_an_empty_yahoo_to_the_sandbox_and_reports_what_is_missing(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    with p.session() as s:
        open_day(s, p.clock, p.settings, ["AAPL", "MSFT", "NVDA"])
    p.clock.set(MARKET_CLOSE + timedelta(minutes=20))
    download = EmptyYahoo()
    chain = [YahooEodProvider(download=download), SandboxEodProvider(unpriced=["NVDA"])]
    service = EodService(
        p.container.sessionmaker(),
        p.clock,
        p.settings,
        providers=chain,
        breakers=make_breakers(chain, p.clock, p.settings),
        calendar=p.container.calendar(),
        sleep=lambda s: None,
    )
    result = service.fetch(DAY)
    assert result["requested"] == 3
    assert result["stored"] == 2
    assert result["missing"] == ["NVDA"]
    assert [(a["provider"], a["status"]) for a in result["attempts"]] == [
        ("yfinance", "FAILED"),
        ("yfinance", "FAILED"),
        ("yfinance", "FAILED"),
        ("sandbox", "PARTIAL"),
    ]
    assert download.calls == 3
    with p.session() as s:
        logs = s.execute(
            text("SELECT provider, status, symbols, missing_symbols FROM crypto.eod_fetch_logs ORDER BY id")
        ).all()
        prices = s.execute(
            text("SELECT symbol, provider FROM crypto.eod_prices WHERE asof = '2026-11-23' ORDER BY symbol")
        ).all()
    assert {r.status for r in logs if r.provider == "yfinance"} == {"FAILED"}
    assert [(r.provider, r.status) for r in logs if r.provider == "sandbox"] == [("sandbox", "PARTIAL")]
    assert all(
        sorted(r.missing_symbols) == ["AAPL", "MSFT", "NVDA"] for r in logs if r.provider == "yfinance"
    )
    sandbox_log = next(r for r in logs if r.provider == "sandbox")
    assert sandbox_log.missing_symbols == ["NVDA"] and sorted(sandbox_log.symbols) == ["AAPL", "MSFT", "NVDA"]
    assert [tuple(r) for r in prices] == [("AAPL", "sandbox"), ("MSFT", "sandbox")]
    # Asking again fetches only what is still missing.
    again = service.fetch(DAY)
    assert again["requested"] == 1 and again["missing"] == ["NVDA"]
