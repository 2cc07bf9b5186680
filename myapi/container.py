"""The composition root. It holds only app-lifetime objects: settings, engine,
sessionmaker, clock, the SQS client and adapter, outside-world providers.

Never a Session: sessions are per request or per job (myapi.core.db), because a
session held by a Singleton/Resource provider leaks connections and state between
requests (python-dependency-injector issues #728 and #455).
"""

from __future__ import annotations

from dependency_injector import containers, providers

from myapi.core.clock import SystemClock
from myapi.core.config import Settings
from myapi.core.db import make_engine, make_sessionmaker
from myapi.providers.queue import SqsQueue, make_sqs_client


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings)
    clock = providers.Singleton(SystemClock)
    engine = providers.Singleton(make_engine, settings)
    sessionmaker = providers.Singleton(make_sessionmaker, engine)
    sqs_client = providers.Singleton(make_sqs_client, settings)
    queue = providers.Singleton(SqsQueue, sqs_client)


def build_container(settings: Settings | None = None) -> Container:
    container = Container()
    if settings is not None:
        container.settings.override(providers.Object(settings))
    return container


def shutdown_container(container: Container) -> None:
    """Release app-lifetime resources: close every pooled database connection."""
    container.engine().dispose()
