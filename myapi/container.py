"""The composition root. It holds only app-lifetime objects: settings, engine,
sessionmaker, clock, the SQS client and adapter, outside-world providers.

Never a Session: sessions are per request or per job (myapi.core.db), because a
session held by a Singleton/Resource provider leaks connections and state between
requests (python-dependency-injector issues #728 and #455).
"""

from __future__ import annotations

from dependency_injector import containers, providers

from myapi.auth.keys import load_key_ring
from myapi.auth.tokens import AccessTokenCodec
from myapi.core.clock import make_clock
from myapi.core.config import Settings
from myapi.core.db import make_engine, make_rate_limit_engine, make_sessionmaker
from myapi.core.ratelimit import RateLimiter, RateLimitRepository
from myapi.cycle.calendar import get_market_calendar
from myapi.market.service import make_breakers
from myapi.providers.eod import build_eod_providers, make_eod_http_client
from myapi.providers.oauth import build_oauth_providers, make_oauth_http_client
from myapi.providers.queue import SqsQueue, make_sqs_client


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings)
    clock = providers.Singleton(
        make_clock, settings.provided.clock_start_at, settings.provided.clock_anchor_at,
        settings.provided.clock_speed,
    )  # fmt: skip
    engine = providers.Singleton(make_engine, settings)
    sessionmaker = providers.Singleton(make_sessionmaker, engine)
    sqs_client = providers.Singleton(make_sqs_client, settings)
    queue = providers.Singleton(SqsQueue, sqs_client)
    key_ring = providers.Singleton(load_key_ring, settings)
    token_codec = providers.Singleton(AccessTokenCodec, key_ring, settings)
    oauth_http = providers.Singleton(make_oauth_http_client, settings)
    oauth_providers = providers.Singleton(build_oauth_providers, settings, oauth_http)
    calendar = providers.Singleton(get_market_calendar)
    eod_http = providers.Singleton(make_eod_http_client, settings)
    eod_providers = providers.Singleton(build_eod_providers, settings, eod_http)
    eod_breakers = providers.Singleton(make_breakers, eod_providers, clock, settings)
    # Thread-safe: first used from the thread pool, where a plain Singleton could build
    # (and leak) more than one engine under a cold-start burst.
    rate_limit_engine = providers.ThreadSafeSingleton(make_rate_limit_engine, settings)
    rate_limiter = providers.ThreadSafeSingleton(
        RateLimiter, providers.ThreadSafeSingleton(RateLimitRepository, rate_limit_engine), settings
    )


def build_container(settings: Settings | None = None) -> Container:
    container = Container()
    if settings is not None:
        container.settings.override(providers.Object(settings))
    return container


def shutdown_container(container: Container) -> None:
    """Release app-lifetime resources: pooled database connections, HTTP clients."""
    container.engine().dispose()
    container.rate_limit_engine().dispose()
    container.oauth_http().close()
    container.eod_http().close()
