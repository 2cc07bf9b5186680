"""A settled week for the console's browser tests: Monday 2026-11-16 to Friday 2026-11-20,
each day opened, predicted by a growing set of players, cut off, priced and settled
through the same services and jobs the scheduler runs (real commits). What was seeded
is returned, so the tests compare the page with figures they know."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from myapi.container import Container
from myapi.core.clock import FrozenClock
from myapi.core.db import unit_of_work
from tests.support.factories import add_close, make_user, open_day, predict

WEEK = [date(2026, 11, 16) + timedelta(days=i) for i in range(5)]
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN")
PLAYERS = 8
# 10:00 KST on D: D's session accepts predictions; 06:30 KST the next morning: D closed.
PLAY_AT = time(1, 0, tzinfo=UTC)
AFTER_CLOSE = time(21, 30, tzinfo=UTC)


@dataclass
class SeededDay:
    day: date
    players: int = 0
    predictions: int = 0
    correct: int = 0
    decided: int = 0
    by_symbol: dict[str, int] = field(default_factory=dict)


def seed_week(container: Container, clock: FrozenClock) -> list[SeededDay]:
    """Day i (0..4) is played by players 0..2+i: player j picks SYMBOLS[(i + j) % 4],
    and an even player a second symbol too; closes alternate up and down, never flat."""
    settings = container.settings()
    factory = container.sessionmaker()
    jobs = container.jobs()
    with unit_of_work(factory) as session:
        players = [make_user(session, f"week.player{j}@example.com") for j in range(PLAYERS)]
    prices = {symbol: Decimal(f"{100 + k}.125000") for k, symbol in enumerate(SYMBOLS)}
    seeded = []
    for i, day in enumerate(WEEK):
        clock.set(datetime.combine(day, PLAY_AT))
        record = SeededDay(day)
        with unit_of_work(factory) as session:
            # The first day's baselines are the previous Friday's closes (open_day adds
            # them); later days take the close stored the evening before.
            open_day(session, clock, settings, SYMBOLS, trading_day=day, with_baselines=i == 0)
            picks: list[tuple[int, str, str]] = []
            for j in range(3 + i):
                symbols = [SYMBOLS[(i + j) % 4]] + ([SYMBOLS[(i + j + 1) % 4]] if j % 2 == 0 else [])
                for symbol in symbols:
                    choice = "UP" if (i + j) % 2 == 0 else "DOWN"
                    predict(session, clock, settings, players[j], symbol, choice)
                    picks.append((j, symbol, choice))
        record.players = 3 + i
        record.predictions = len(picks)
        ups = {symbol: (i + k) % 2 == 0 for k, symbol in enumerate(SYMBOLS)}
        for _j, symbol, choice in picks:
            record.by_symbol[symbol] = record.by_symbol.get(symbol, 0) + 1
            record.decided += 1
            record.correct += ups[symbol] == (choice == "UP")
        clock.set(datetime.combine(day, AFTER_CLOSE))
        jobs.cutoff(day)
        with unit_of_work(factory) as session:
            for symbol in SYMBOLS:
                prices[symbol] += Decimal("1.5") if ups[symbol] else Decimal("-1.5")
                add_close(session, symbol, day, f"{prices[symbol]:.6f}")
        assert jobs.settle(day).status == "SUCCEEDED"
        jobs.follow_up_settlement(day)
        seeded.append(record)
    return seeded
