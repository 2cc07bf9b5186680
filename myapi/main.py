"""create_app(): settings -> container -> middleware, error handlers, routers.

Run with `uvicorn --factory myapi.main:create_app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from myapi.admin.ops_router import router as admin_ops_router
from myapi.admin.router import router as admin_router
from myapi.adminui.router import router as admin_ui_router
from myapi.apidocs import install_api_docs, openapi_url, operation_id
from myapi.audit.middleware import AuditMiddleware
from myapi.audit.router import router as audit_router
from myapi.auth.router import dev_router as auth_dev_router
from myapi.auth.router import jwks_router
from myapi.auth.router import router as auth_router
from myapi.container import Container, build_container, shutdown_container
from myapi.core.body_limit import BodyLimitMiddleware, BodyLimits
from myapi.core.config import Settings
from myapi.core.errors import install_error_handlers
from myapi.core.input_guard import InputGuardMiddleware
from myapi.core.logging import configure_logging
from myapi.core.metrics import Metrics
from myapi.core.middleware import RequestContextMiddleware
from myapi.core.schemas import COMMON_ERROR_RESPONSES
from myapi.core.security_headers import SecurityHeadersMiddleware
from myapi.cycle.router import router as session_router
from myapi.dashboard.router import router as dashboard_router
from myapi.health.router import router as health_router
from myapi.internal.router import router as internal_router
from myapi.internal.router import vendor_router
from myapi.leaderboard.router import router as leaderboard_router
from myapi.maintenance.middleware import MaintenanceModeMiddleware
from myapi.maintenance.router import router as maintenance_router
from myapi.notifications.router import router as notifications_router
from myapi.playerui.router import router as player_ui_router
from myapi.points.router import router as points_router
from myapi.predictions.router import router as predictions_router
from myapi.push.router import preferences_router as push_preferences_router
from myapi.push.router import router as devices_router
from myapi.rewards.router import router as rewards_router
from myapi.settlement.router import admin_router as settlement_admin_router
from myapi.settlement.router import crowd_router, results_router
from myapi.settlement.router import router as settlements_router
from myapi.slots.router import dev_router as ads_dev_router
from myapi.slots.router import router as ads_router
from myapi.universe.router import router as universe_router
from myapi.users.router import router as users_router

API_DESCRIPTION = """
Daily US-stock up/down prediction game.

* `/v1` — players (JWT bearer)
* `/admin` — operators (JWT of an ADMIN)
* `/internal` — scheduler and vendors (`X-Internal-Token` or HMAC)

Every JSON response is the envelope `{success, data, error, meta}`; error codes are
listed in docs/api.md.
"""


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    container = container or build_container(settings)
    settings = container.settings()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Sync routes and dependencies run in anyio's thread pool; its size bounds the
        # requests doing Python/DB work at once in this process.
        to_thread.current_default_thread_limiter().total_tokens = settings.api_thread_pool_size
        # Built now, not by the first request: the NYSE calendar (~1 s) and the JWT keys.
        container.calendar()
        container.token_codec()
        yield
        shutdown_container(container)

    app = FastAPI(
        title=settings.app_name,
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        responses=COMMON_ERROR_RESPONSES,
        # /docs and /redoc with the app's own assets (myapi.apidocs), not FastAPI's CDN pages.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        # /openapi.json, /docs and /redoc only where API_DOCS_PUBLIC says (not in production).
        openapi_url=openapi_url(settings.serves_api_docs),
        generate_unique_id_function=operation_id,
    )
    install_api_docs(app, public=settings.serves_api_docs)
    app.state.container = container
    app.state.metrics = Metrics(
        container.engine(), container.rate_limit_engine(), outbox_lag=container.outbox_relay().lag
    )

    install_error_handlers(app)
    app.add_middleware(InputGuardMiddleware)  # innermost: text checked before any route (input_guard)
    # Innermost first: the audit sees the route's real answer; maintenance mode answers
    # before any route runs; both inside CORS, so their answers carry its headers.
    app.add_middleware(AuditMiddleware, factory=container.sessionmaker(), clock=container.clock())
    app.add_middleware(
        MaintenanceModeMiddleware,
        factory=container.sessionmaker(),
        clock=container.clock(),
        cache_s=settings.maintenance_cache_s,
    )
    # Before anything reads a body (inside CORS: a browser can read its 413).
    app.add_middleware(BodyLimitMiddleware, limits=BodyLimits.from_settings(settings))
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
        expose_headers=[
            "X-Request-ID",
            "Retry-After",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
        ],
    )
    # Outside CORS: every response, CORS preflights included, gets a request id.
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    # Around all of it: every response, the last-resort 500 included, gets the security headers.
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)

    app.include_router(health_router)
    app.include_router(jwks_router)
    app.include_router(auth_router)
    if settings.dev_login_enabled and not settings.is_production:
        app.include_router(auth_dev_router)
    app.include_router(users_router)
    app.include_router(session_router)
    app.include_router(universe_router)
    app.include_router(predictions_router)
    app.include_router(ads_router)
    app.include_router(points_router)
    app.include_router(rewards_router)
    # Before the inbox: /v1/notifications/preferences is never read as a notification id.
    app.include_router(push_preferences_router)
    app.include_router(notifications_router)
    app.include_router(devices_router)
    app.include_router(leaderboard_router)
    app.include_router(settlements_router)
    app.include_router(results_router)
    app.include_router(crowd_router)
    if not settings.is_production:
        app.include_router(ads_dev_router)
    app.include_router(admin_router)
    app.include_router(settlement_admin_router)  # settle a day, corporate actions, symbol-day VOID
    app.include_router(dashboard_router)
    app.include_router(admin_ops_router)
    app.include_router(admin_ui_router)  # static console files (public; data via /admin)
    app.include_router(player_ui_router)  # the player web page at / (public; data via /v1)
    app.include_router(audit_router)
    app.include_router(maintenance_router)
    app.include_router(internal_router)
    app.include_router(vendor_router)
    # Fail at start-up, not at the first request, when the signing keys are unusable.
    container.key_ring()
    return app
