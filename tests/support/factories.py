"""Factories as functions: put the database in the state a test needs, through the
same services the app uses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.core.clock import Clock
from myapi.core.config import Settings
from myapi.cycle.calendar import get_market_calendar
from myapi.cycle.service import SessionService
from myapi.universe.service import UniverseService

DEFAULT_SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "META", "GOOGL", "NFLX", "AMD", "INTC", "IBM")


def add_close(
    db: Session, symbol: str, asof: date, close: str, *, vendor_rev: int = 0, provider: str = "sandbox"
) -> None:
    db.execute(
        text(
            "INSERT INTO crypto.eod_prices (asof, symbol, vendor_rev, close_price, provider) "
            "VALUES (:d, :s, :r, :c, :p)"
        ),
        {"d": asof, "s": symbol, "r": vendor_rev, "c": Decimal(close), "p": provider},
    )


def open_day(
    db: Session,
    clock: Clock,
    settings: Settings,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    *,
    trading_day: date | None = None,
    with_baselines: bool = True,
) -> date:
    """Universe (with baselines from the previous close) and an open session for the
    trading day the clock is in (or `trading_day`)."""
    calendar = get_market_calendar()
    day = trading_day or calendar.trading_day_for(clock.now())
    if with_baselines:
        previous = calendar.previous_trading_day(day)
        for i, symbol in enumerate(symbols):
            add_close(db, symbol, previous, f"{100 + i}.125000")
    UniverseService(db, clock, settings, calendar).upsert(day, list(symbols), actor="test")
    SessionService(db, clock, settings, calendar).open(day)
    db.flush()
    return day


def make_user(db: Session, email: str, *, balance: int = 1000) -> int:
    """A player with a signup bonus already in the ledger (balance = ledger sum)."""
    user_id = int(
        db.execute(
            text(
                "INSERT INTO crypto.users (email, nickname, auth_provider, provider_id) "
                "VALUES (:e, :n, 'DEV', :e) RETURNING id"
            ),
            {"e": email, "n": email.split("@")[0].replace(".", "_")[:30]},
        ).scalar_one()
    )
    if balance:
        db.execute(
            text(
                "INSERT INTO crypto.points_ledger (user_id, delta_points, reason, ref_type, ref_id, "
                "balance_after) VALUES (:u, :b, 'signup_bonus', 'SIGNUP', :u, :b)"
            ),
            {"u": user_id, "b": balance},
        )
        db.execute(
            text("INSERT INTO crypto.point_balances (user_id, balance) VALUES (:u, :b)"),
            {"u": user_id, "b": balance},
        )
    return user_id


def predict(db: Session, clock: Clock, settings: Settings, user_id: int, symbol: str, choice: str) -> int:
    from myapi.core.enums import Choice
    from myapi.predictions.service import PredictionService

    accepted = PredictionService(db, clock, settings, get_market_calendar()).submit(
        user_id, symbol, Choice(choice)
    )
    return accepted.prediction_id
