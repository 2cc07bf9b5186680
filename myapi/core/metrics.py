"""Prometheus metrics. Each app owns its registry, so several apps (tests) never collide."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _PoolCollector(Collector):
    """Connection-pool usage per pool (label `pool`: the request pool, the rate
    limiter's), read at scrape time (costs nothing between scrapes)."""

    def __init__(self, engines: dict[str, Engine]) -> None:
        self._engines = engines

    def collect(self) -> Iterator[GaugeMetricFamily]:
        checked_out = GaugeMetricFamily(
            "db_pool_checked_out", "Database connections currently checked out of the pool", labels=["pool"]
        )
        size = GaugeMetricFamily("db_pool_size", "Configured size of the database pool", labels=["pool"])
        for name, engine in self._engines.items():
            pool = engine.pool
            if isinstance(pool, QueuePool):
                checked_out.add_metric([name], pool.checkedout())
                size.add_metric([name], pool.size())
        yield checked_out
        yield size


OutboxLag = Callable[[], tuple[int, float]]


class _OutboxCollector(Collector):
    """Outbox lag: unpublished events and the age of the oldest (one small query per
    scrape, made by the outbox's own repository through `read_lag`)."""

    def __init__(self, read_lag: OutboxLag) -> None:
        self._read_lag = read_lag

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Registration must not query the database; describe without collecting.
        yield GaugeMetricFamily("outbox_unpublished", "Outbox events not yet published to SQS")
        yield GaugeMetricFamily("outbox_oldest_age_seconds", "Age of the oldest unpublished event")

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pending = GaugeMetricFamily("outbox_unpublished", "Outbox events not yet published to SQS")
        age = GaugeMetricFamily("outbox_oldest_age_seconds", "Age of the oldest unpublished event")
        try:
            unpublished, oldest_s = self._read_lag()
        except Exception:  # a scrape must never fail because the database is down
            return
        pending.add_metric([], float(unpublished))
        age.add_metric([], oldest_s)
        yield pending
        yield age


class Metrics:
    def __init__(
        self,
        engine: Engine | None = None,
        rate_limit_engine: Engine | None = None,
        outbox_lag: OutboxLag | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by method, route template and status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        if engine is not None:
            pools = {"request": engine}
            if rate_limit_engine is not None:
                pools["rate_limit"] = rate_limit_engine
            self.registry.register(_PoolCollector(pools))
        if outbox_lag is not None:
            self.registry.register(_OutboxCollector(outbox_lag))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)
