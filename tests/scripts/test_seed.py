from __future__ import annotations

from sqlalchemy import Engine, text

from myapi.core.config import Settings
from scripts.seed import DEMO_CATALOG, seed


def test_seed_adds_universe_and_catalog_once(settings: Settings, live_engine: Engine) -> None:
    first = seed(settings)
    assert first.universe_added == settings.universe_max_size
    assert first.rewards_added == len(DEMO_CATALOG)
    second = seed(settings)
    assert (second.universe_added, second.rewards_added) == (0, 0)
    with live_engine.connect() as conn:
        symbols = (
            conn.execute(
                text("SELECT symbol FROM crypto.active_universe WHERE trading_day = :d ORDER BY seq"),
                {"d": first.trading_day},
            )
            .scalars()
            .all()
        )
    assert symbols[:3] == ["AAPL", "MSFT", "NVDA"]
    assert len(symbols) == len(set(symbols)) == settings.universe_max_size
