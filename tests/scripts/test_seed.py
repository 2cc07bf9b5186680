from __future__ import annotations

from sqlalchemy import Engine, text

from myapi.core.config import Settings
from scripts.seed import DEMO_CATALOG, seed
from tests.support.days import DEFAULT_NOW


def test_seed_opens_today_with_baselines_and_adds_the_catalog_once(
    settings: Settings, live_engine: Engine
) -> None:
    """As `make run` does it (its own container and clock; here the shared clock starts on
    Monday 2026-11-23 10:00 KST): today's universe has a baseline for every symbol (the
    previous close from the sandbox provider), so a prediction made now can be won."""
    settings = settings.model_copy(update={"clock_start_at": DEFAULT_NOW})
    first = seed(settings)
    assert first.trading_day == "2026-11-23"
    assert first.universe_added == settings.universe_max_size
    assert first.with_baseline == settings.universe_max_size
    assert first.session == "opened"
    assert first.rewards_added == len(DEMO_CATALOG)
    second = seed(settings)
    assert (second.universe_added, second.rewards_added, second.session) == (0, 0, "already open")
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
