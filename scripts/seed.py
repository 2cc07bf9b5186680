"""Demo data for a local run: the current trading day opened with the default universe
and real baselines (the same job the scheduler runs: the previous close is fetched
from the EOD provider, the sandbox by default), and a small reward catalog.
Idempotent: running it again adds only what is missing.

    python -m scripts.seed
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from myapi.container import build_container, shutdown_container
from myapi.core.config import Settings
from myapi.core.db import unit_of_work
from myapi.core.errors import AppError
from myapi.providers.rewards import SANDBOX_VENDOR
from myapi.rewards.repository import CatalogItem, RewardsRepository

# Issued by the offline sandbox vendor (worthless codes; refused in production). The two
# cheapest are within a newcomer's signup bonus (SIGNUP_BONUS_POINTS, 1,000 by default).
DEMO_CATALOG = (
    CatalogItem("COFFEE-AMERICANO", "Americano gift code", 500, 500, SANDBOX_VENDOR),
    CatalogItem("CONVENIENCE-5000", "Convenience store 5,000 KRW voucher", 900, 300, SANDBOX_VENDOR),
    CatalogItem("MOVIE-TICKET", "Movie ticket", 3_000, 100, SANDBOX_VENDOR),
    CatalogItem("CHICKEN-SET", "Fried chicken set", 6_000, 50, SANDBOX_VENDOR),
)


LEGACY_DEMO_VENDOR = "demo-vendor"


@dataclass(frozen=True)
class SeedResult:
    trading_day: str
    universe_added: int
    with_baseline: int
    session: str  # opened | already open | why it is not due (e.g. CYCLE_004 ...)
    rewards_added: int


def seed(settings: Settings) -> SeedResult:
    container = build_container(settings)
    try:
        jobs = container.jobs()
        day = container.calendar().trading_day_for(container.clock().now())
        universe_added = 0
        try:
            details = jobs.open_day(day, actor="seed").details
            session = "opened" if details["opened"] else "already open"
            universe_added = settings.universe_max_size if details["default_universe_set"] else 0
        except AppError as exc:  # e.g. the previous day is still being settled
            session = f"{exc.code} {exc.details}"
        with unit_of_work(container.sessionmaker()) as db:
            items = container.universe_service(db).list_for_day(day)
            rewards = RewardsRepository(db)
            # Databases seeded before the sandbox vendor existed named a vendor nobody runs.
            rewards.move_vendor(LEGACY_DEMO_VENDOR, SANDBOX_VENDOR, container.clock().now())
            rewards_added = rewards.insert_missing_items(DEMO_CATALOG)
        with_baseline = sum(1 for item in items if item.baseline_price is not None)
        return SeedResult(day.isoformat(), universe_added, with_baseline, session, rewards_added)
    finally:
        shutdown_container(container)


if __name__ == "__main__":
    print(json.dumps(seed(Settings()).__dict__))
