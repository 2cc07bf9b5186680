"""The composition root: the one place where services are built.

It holds app-lifetime objects (settings, engine, sessionmaker, clock, the SQS client,
outside-world providers) and a factory per service. A factory that needs a database
session takes it at call time — `container.prediction_service(session)` — so the
container never holds a Session: sessions are per request or per job (myapi.core.db),
because a session held by a Singleton/Resource provider leaks connections and state
between requests (python-dependency-injector issues #728 and #455).

Routers get services through their domain's typed dependency (`<domain>/deps.py`),
jobs and batch processes through these factories; nothing else constructs a service.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from myapi.admin.service import AdminService
from myapi.alerts.service import AlertService
from myapi.audit.service import AuditService
from myapi.auth.keys import load_key_ring
from myapi.auth.service import AuthService
from myapi.auth.tokens import AccessTokenCodec
from myapi.core.clock import make_clock
from myapi.core.config import Settings
from myapi.core.db import make_engine, make_rate_limit_engine, make_sessionmaker
from myapi.crowd.service import CrowdService
from myapi.cycle.calendar import get_market_calendar
from myapi.cycle.service import CyclePlanner, SessionService
from myapi.dashboard.service import DashboardService, DashboardSummary, LiveCounts
from myapi.events.relay import OutboxRelay
from myapi.health.service import ReadinessService
from myapi.jobs.definitions import Jobs
from myapi.jobs.service import EodBackfillService
from myapi.leaderboard.service import LeaderboardService
from myapi.maintenance.service import MaintenanceMode, MaintenanceService
from myapi.market.service import EodService, VendorEventService, make_breakers
from myapi.notifications.service import NotificationService
from myapi.points.service import PointsLedger
from myapi.predictions.service import PredictionService
from myapi.providers.alerts import build_alert_sink, make_alert_http_client
from myapi.providers.eod import build_eod_providers, make_eod_http_client
from myapi.providers.oauth import build_oauth_providers, make_oauth_http_client
from myapi.providers.push import build_push_sender, make_push_http_client
from myapi.providers.queue import SqsQueue, make_sqs_client
from myapi.providers.rewards import build_reward_vendors, make_reward_http_client
from myapi.push.delivery import PushDelivery
from myapi.push.service import PushService
from myapi.queues.service import QueueService
from myapi.ratelimit.repository import RateLimitRepository
from myapi.ratelimit.service import RateLimiter
from myapi.rewards.saga import RedemptionSaga
from myapi.rewards.service import RewardService
from myapi.settlement.service import SettlementQueries, SettlementService
from myapi.slots.service import SlotService
from myapi.universe.service import UniverseService
from myapi.users.service import UserService


class Container(containers.DeclarativeContainer):
    __self__ = providers.Self()

    # --- app-lifetime objects ------------------------------------------------------
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
    calendar = providers.Singleton(get_market_calendar, clock)
    eod_http = providers.Singleton(make_eod_http_client, settings)
    eod_providers = providers.Singleton(build_eod_providers, settings, eod_http)
    eod_breakers = providers.Singleton(make_breakers, eod_providers, clock, settings)
    reward_http = providers.Singleton(make_reward_http_client, settings)
    reward_vendors = providers.Singleton(build_reward_vendors, settings, reward_http)
    reward_vendor_names: providers.Singleton[frozenset[str]] = providers.Singleton(frozenset, reward_vendors)
    alert_http = providers.Singleton(make_alert_http_client, settings)
    alert_sink = providers.Singleton(build_alert_sink, settings, alert_http)
    # Thread-safe: one sender per process, so one cached FCM access token for every pass.
    push_http = providers.ThreadSafeSingleton(make_push_http_client, settings)
    push_sender = providers.ThreadSafeSingleton(build_push_sender, settings, push_http, clock)
    # Thread-safe: first used from the thread pool, where a plain Singleton could build
    # (and leak) more than one engine under a cold-start burst.
    rate_limit_engine = providers.ThreadSafeSingleton(make_rate_limit_engine, settings)
    rate_limiter = providers.ThreadSafeSingleton(
        RateLimiter, providers.ThreadSafeSingleton(RateLimitRepository, rate_limit_engine), settings
    )
    # The dashboard's live counts, shared by the process's requests (thread-safe).
    dashboard_live = providers.ThreadSafeSingleton(LiveCounts, ttl_s=settings.provided.dashboard_live_ttl_s)

    # --- services over one session (the session is the call-time argument) ----------
    admin_service = providers.Factory(AdminService, clock=clock)
    audit_service = providers.Factory(AuditService, clock=clock)
    auth_service = providers.Factory(
        AuthService, clock=clock, settings=settings, codec=token_codec, providers=oauth_providers
    )
    crowd_service = providers.Factory(CrowdService, clock=clock)
    eod_backfill_service = providers.Factory(
        EodBackfillService, clock=clock, settings=settings, calendar=calendar
    )
    cycle_planner = providers.Factory(CyclePlanner, clock=clock, settings=settings, calendar=calendar)
    dashboard_service = providers.Factory(
        DashboardService, clock=clock, settings=settings, calendar=calendar, queue=queue, live=dashboard_live
    )
    dashboard_summary = providers.Factory(DashboardSummary, clock=clock, calendar=calendar)
    leaderboard_service = providers.Factory(
        LeaderboardService,
        clock=clock,
        statement_timeout_ms=settings.provided.settlement_statement_timeout_ms,
    )
    maintenance_service = providers.Factory(
        MaintenanceService, clock=clock, rate_limit_window_s=settings.provided.rate_limit_window_s
    )
    maintenance_mode = providers.Factory(MaintenanceMode, clock=clock)
    notification_service = providers.Factory(
        NotificationService, clock=clock, calendar=calendar, settings=settings
    )
    points_ledger = providers.Factory(PointsLedger, clock=clock)
    prediction_service = providers.Factory(
        PredictionService, clock=clock, settings=settings, calendar=calendar
    )
    push_service = providers.Factory(PushService, clock=clock, settings=settings)
    reward_service = providers.Factory(
        RewardService, clock=clock, settings=settings, vendor_names=reward_vendor_names
    )
    session_service = providers.Factory(SessionService, clock=clock, settings=settings, calendar=calendar)
    settlement_queries = providers.Factory(SettlementQueries)
    settlement_service = providers.Factory(SettlementService, clock=clock, settings=settings)
    slot_service = providers.Factory(SlotService, clock=clock, settings=settings, calendar=calendar)
    universe_service = providers.Factory(UniverseService, clock=clock, settings=settings, calendar=calendar)
    user_service = providers.Factory(
        UserService, clock=clock, deletion_grace_days=settings.provided.account_deletion_grace_days
    )
    vendor_event_service = providers.Factory(VendorEventService, clock=clock)

    # --- services that open their own units of work ---------------------------------
    eod_service = providers.Factory(
        EodService, factory=sessionmaker, clock=clock, settings=settings,
        providers=eod_providers, breakers=eod_breakers, calendar=calendar,
    )  # fmt: skip
    readiness_service = providers.Factory(ReadinessService, engine=engine, queue=queue, settings=settings)
    queue_service = providers.Factory(QueueService, queue=queue, settings=settings)  # no database
    outbox_relay = providers.Factory(
        OutboxRelay, factory=sessionmaker, queue=queue, settings=settings, clock=clock
    )
    reward_saga = providers.Factory(
        RedemptionSaga, factory=sessionmaker, clock=clock, settings=settings, vendors=reward_vendors
    )
    push_delivery = providers.Factory(
        PushDelivery, factory=sessionmaker, clock=clock, settings=settings, sender=push_sender
    )
    alert_service = providers.Factory(
        AlertService, factory=sessionmaker, clock=clock, settings=settings, sink=alert_sink,
        queue=queue, calendar=calendar,
    )  # fmt: skip

    # --- every batch step, defined once ----------------------------------------------
    jobs = providers.Factory(Jobs, __self__)


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
    container.reward_http().close()
    container.push_http().close()
    container.alert_http().close()
