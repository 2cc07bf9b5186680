"""The app under test: its settings and its container (with a frozen clock)."""

from __future__ import annotations

import json

from dependency_injector import providers
from sqlalchemy import Engine

from myapi.auth.keys import generate_private_pem
from myapi.container import Container, build_container
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings

# One RSA key pair for the whole run (generating one takes ~0.1 s).
TEST_SIGNING_KID = "test-key-1"
TEST_SIGNING_PEM = generate_private_pem()


def make_settings(database_url: str, sqs_endpoint: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "sqs_endpoint_url": sqs_endpoint,
        "queue_prefix": "test-",
        "sqs_wait_time_s": 0,
        "log_json": True,
        # Room for 50 concurrent requests (40 threadpool slots) plus the rate limiter.
        "db_pool_size": 10,
        "db_max_overflow": 50,
        "jwt_private_keys": json.dumps({TEST_SIGNING_KID: TEST_SIGNING_PEM}),
        # Limits a test run never reaches; tests/core/test_rate_limit.py sets small ones.
        "rate_limit_read": 1_000_000,
        "rate_limit_write": 1_000_000,
        "rate_limit_auth": 1_000_000,
        "rate_limit_ip": 1_000_000,
        # The tick's alert check (SQS depths, the integrity checks: ~80 ms) at its 5-minute
        # default would run on every tick of the simulated months (a tick per 15 minutes);
        # once a simulated day, and on a test's first tick. tests/alerts use the default.
        "alert_check_interval_s": 86_400,
        # The factories' baselines and previous closes (100.125, 101.125, ...) are not the
        # sandbox's prices (20-500): every sandbox close would look like a split and be
        # held for review. The move rule is off here; tests/corporate turn it on (reported
        # splits and dividends hold a symbol-day in every test).
        "corporate_action_max_move": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def build_test_container(settings: Settings, clock: FrozenClock, engine: Engine | None = None) -> Container:
    container = build_container(settings)
    container.clock.override(providers.Object(clock))
    if engine is not None:
        container.engine.override(providers.Object(engine))
    return container
