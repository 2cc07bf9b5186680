"""The default test day: the `clock` fixture starts on Monday 2026-11-23, 10:00 KST,
while the session for that trading day is open."""

from __future__ import annotations

from datetime import UTC, date, datetime

DEFAULT_NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
DAY = date(2026, 11, 23)
MARKET_CLOSE = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)  # 16:00 New York (EST)
AFTER_CLOSE = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # 06:30 KST Tuesday
# Baselines from open_day: AAPL 100.125, MSFT 101.125, NVDA 102.125, AMZN 103.125
