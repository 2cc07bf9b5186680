"""Demo data for a local run: the default universe for the current trading day and a
small reward catalog. Idempotent: running it again adds only what is missing.

    python -m scripts.seed
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from myapi.container import build_container
from myapi.core.config import Settings
from myapi.core.db import unit_of_work
from myapi.cycle.calendar import get_market_calendar
from myapi.rewards.repository import CatalogItem, RewardsRepository
from myapi.universe.defaults import DEFAULT_TICKERS
from myapi.universe.repository import UniverseRepository

DEMO_CATALOG = (
    CatalogItem("COFFEE-AMERICANO", "Americano gift code", 1_500, 500, "demo-vendor"),
    CatalogItem("CONVENIENCE-5000", "Convenience store 5,000 KRW voucher", 2_500, 300, "demo-vendor"),
    CatalogItem("MOVIE-TICKET", "Movie ticket", 6_000, 100, "demo-vendor"),
    CatalogItem("CHICKEN-SET", "Fried chicken set", 10_000, 50, "demo-vendor"),
)


@dataclass(frozen=True)
class SeedResult:
    trading_day: str
    universe_added: int
    rewards_added: int


def seed(settings: Settings) -> SeedResult:
    container = build_container(settings)
    try:
        now = container.clock().now()
        trading_day = get_market_calendar().trading_day_for(now)
        symbols = DEFAULT_TICKERS[: settings.universe_max_size]
        with unit_of_work(container.sessionmaker()) as session:
            universe_added = UniverseRepository(session).insert_missing(trading_day, symbols)
            rewards_added = RewardsRepository(session).insert_missing_items(DEMO_CATALOG)
        return SeedResult(trading_day.isoformat(), universe_added, rewards_added)
    finally:
        container.engine().dispose()


if __name__ == "__main__":
    print(json.dumps(seed(Settings()).__dict__))
