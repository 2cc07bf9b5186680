"""Fixtures of the corporate-action tests: the test settings with the move rule on (the
suite's settings turn it off: their fixtures' prices are not the sandbox's), a day with
two players on three symbols, and a pipeline (own queues, real commits) with the rule on."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.main import create_app
from tests.support.app import make_settings
from tests.support.days import DAY
from tests.support.factories import add_close, make_user, open_day, predict
from tests.support.pipeline import Pipeline, own_pipeline

MAX_MOVE = Decimal("0.4")  # the default of CORPORATE_ACTION_MAX_MOVE
SYMBOLS = ["AAPL", "MSFT", "NVDA"]  # baselines 100.125, 101.125, 102.125 (open_day)


@pytest.fixture(scope="session")
def settings(database_url: str, sqs_endpoint: str) -> Settings:
    return make_settings(database_url, sqs_endpoint, corporate_action_max_move=MAX_MOVE)


@pytest.fixture
def players(db: Session, clock: FrozenClock, settings: Settings) -> tuple[int, int]:
    """The default day open on AAPL, MSFT, NVDA; a bull (UP on each) and a bear (DOWN on
    each). No close yet: each test adds its own."""
    open_day(db, clock, settings, SYMBOLS)
    bull = make_user(db, "corp.bull@example.com")
    bear = make_user(db, "corp.bear@example.com")
    for symbol in SYMBOLS:
        predict(db, clock, settings, bull, symbol, "UP")
        predict(db, clock, settings, bear, symbol, "DOWN")
    db.flush()
    return bull, bear


def closes(db: Session, **by_symbol: str) -> None:
    for symbol, close in by_symbol.items():
        add_close(db, symbol, DAY, close)
    db.flush()


@pytest.fixture
def corp_pipeline(settings: Settings, clock: FrozenClock) -> Iterator[Pipeline]:
    """tests/support/pipeline.py's pipeline with the move rule on."""
    with own_pipeline(settings, clock, corporate_action_max_move=MAX_MOVE) as p:
        yield p


@pytest.fixture
def corp_client(corp_pipeline: Pipeline) -> Iterator[TestClient]:
    """The app over the pipeline's container (real commits, the pipeline's queues)."""
    with TestClient(create_app(container=corp_pipeline.container), raise_server_exceptions=False) as c:
        yield c
