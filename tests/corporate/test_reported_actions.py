"""What the EOD providers report about splits and dividends, and the settings' bounds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from myapi.core.config import Settings
from myapi.providers.eod.base import CorporateAction
from myapi.providers.eod.sandbox import SandboxEodProvider, sandbox_close
from myapi.providers.eod.yahoo import YahooEodProvider

FRIDAY, MONDAY, TUESDAY = date(2026, 11, 20), date(2026, 11, 23), date(2026, 11, 24)


def test_the_sandbox_reports_a_split_on_its_day_and_scales_every_close_from_then_on() -> None:
    split = SandboxEodProvider(corporate_actions={("AAPL", MONDAY): CorporateAction("SPLIT", Decimal(4))})
    monday = split.fetch(MONDAY, ["AAPL", "MSFT"]).quotes
    assert monday["AAPL"].corporate_action == CorporateAction("SPLIT", Decimal(4))
    assert monday["AAPL"].close == (sandbox_close("AAPL", MONDAY) / 4).quantize(Decimal("0.01"))
    assert monday["AAPL"].prev_close == sandbox_close("AAPL", FRIDAY)  # as it was: unadjusted
    assert monday["MSFT"].corporate_action is None
    assert monday["MSFT"].close == sandbox_close("MSFT", MONDAY)
    tuesday = split.fetch(TUESDAY, ["AAPL"]).quotes["AAPL"]
    assert tuesday.corporate_action is None
    assert tuesday.prev_close == monday["AAPL"].close
    assert tuesday.close == (sandbox_close("AAPL", TUESDAY) / 4).quantize(Decimal("0.01"))
    # Deterministic, and the formula's prices without actions.
    assert split.fetch(MONDAY, ["AAPL"]).quotes["AAPL"] == monday["AAPL"]
    assert SandboxEodProvider().fetch(MONDAY, ["AAPL"]).quotes["AAPL"].close == sandbox_close("AAPL", MONDAY)


def test_the_sandbox_drops_the_price_by_a_dividend_on_its_ex_day() -> None:
    amount = Decimal("10.00")
    paying = SandboxEodProvider(corporate_actions={("IBM", MONDAY): CorporateAction("DIVIDEND", amount)})
    quote = paying.fetch(MONDAY, ["IBM"]).quotes["IBM"]
    friday = sandbox_close("IBM", FRIDAY)
    expected = (sandbox_close("IBM", MONDAY) * (1 - amount / friday)).quantize(Decimal("0.01"))
    assert quote.close == expected and quote.corporate_action == CorporateAction("DIVIDEND", amount)


def _frame(rows: dict[date, tuple[float, float, float]]) -> pd.DataFrame:
    """One ticker as yfinance.download(actions=True, group_by="ticker") returns it:
    (Close, Dividends, Stock Splits) per day under (Ticker, Price) columns."""
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in sorted(rows)], name="Date")
    data: dict[tuple[str, str], list[Any]] = {}
    for ticker in ("AAPL", "KO"):
        data[(ticker, "Close")] = [rows[d][0] for d in sorted(rows)]
        data[(ticker, "Dividends")] = [rows[d][1] if ticker == "KO" else 0.0 for d in sorted(rows)]
        data[(ticker, "Stock Splits")] = [rows[d][2] if ticker == "AAPL" else 0.0 for d in sorted(rows)]
    frame = pd.DataFrame(data, index=index)
    frame.columns = pd.MultiIndex.from_tuples(list(data), names=["Ticker", "Price"])
    return frame


def test_yahoo_reads_the_split_and_the_dividend_of_the_day() -> None:
    frame = _frame({FRIDAY: (400.0, 0.0, 0.0), MONDAY: (101.5, 0.51, 4.0)})
    calls: list[dict[str, Any]] = []

    def download(**kwargs: Any) -> pd.DataFrame:
        calls.append(kwargs)
        return frame

    quotes = YahooEodProvider(download=download).fetch(MONDAY, ["AAPL", "KO"]).quotes
    assert calls[0]["actions"] is True and calls[0]["auto_adjust"] is False
    assert quotes["AAPL"].corporate_action == CorporateAction("SPLIT", Decimal("4.000000"))
    assert quotes["KO"].corporate_action == CorporateAction("DIVIDEND", Decimal("0.510000"))
    assert quotes["AAPL"].close == Decimal("101.500000")
    # An action on another day of the window is not the day's.
    earlier = _frame({FRIDAY: (400.0, 0.51, 4.0), MONDAY: (101.5, 0.0, 0.0)})
    quiet = YahooEodProvider(download=lambda **_: earlier).fetch(MONDAY, ["AAPL", "KO"]).quotes
    assert quiet["AAPL"].corporate_action is None and quiet["KO"].corporate_action is None


@pytest.mark.parametrize("value", ["0.01", "0.96", "-0.1"])
def test_the_max_move_is_off_or_within_its_range(value: str) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, corporate_action_max_move=Decimal(value))  # type: ignore[call-arg]


def test_the_defaults_hold_a_two_for_one_split() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.corporate_action_max_move == Decimal("0.4")  # a 2-for-1 split moves -50 %
    assert settings.corporate_action_dividend_min == Decimal("0.05")
    assert Settings(_env_file=None, corporate_action_max_move=0).corporate_action_max_move == 0  # type: ignore[call-arg]
