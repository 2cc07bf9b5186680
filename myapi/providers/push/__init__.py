"""Push notification senders behind one interface (`PushSender`): Firebase Cloud
Messaging (HTTP v1, service-account auth) and a log-only sender for development. See
base.py for what each outcome means to the delivery job."""

from __future__ import annotations

import httpx

from myapi.core.clock import Clock
from myapi.core.config import ConfigurationError, Settings
from myapi.providers.push.base import PushOutcome, PushResult, PushSender, token_hint
from myapi.providers.push.fcm import (
    FCM_SCOPE,
    JWT_BEARER_GRANT,
    AccessTokenError,
    FcmSender,
    GoogleAccessTokens,
    ServiceAccount,
    ServiceAccountError,
)
from myapi.providers.push.log import LogSender


def make_push_http_client(settings: Settings) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(settings.fcm_timeout_s),
        follow_redirects=False,
        headers={"User-Agent": "oxuniverse/0.1"},
    )


def build_push_sender(settings: Settings, http: httpx.Client, clock: Clock) -> PushSender | None:
    """The sender PUSH_PROVIDER names: `fcm` (FCM_SERVICE_ACCOUNT_JSON required), `log`
    (development; refused in production), or None for `none` (push disabled)."""
    if settings.push_provider == "none":
        return None
    if settings.push_provider == "log":
        return LogSender()
    try:
        account = ServiceAccount.from_json(settings.fcm_service_account_json)
        tokens = GoogleAccessTokens(http, account, clock, timeout_s=settings.fcm_timeout_s)
    except ServiceAccountError as exc:
        raise ConfigurationError(f"PUSH_PROVIDER=fcm: {exc}") from exc
    return FcmSender(
        http,
        tokens,
        clock,
        base_url=settings.fcm_base_url,
        project_id=settings.fcm_project_id or account.project_id,
        timeout_s=settings.fcm_timeout_s,
        attempts=settings.fcm_max_attempts,
        backoff_base_s=settings.fcm_backoff_base_s,
        backoff_max_s=settings.fcm_backoff_max_s,
    )


__all__ = [
    "FCM_SCOPE",
    "JWT_BEARER_GRANT",
    "AccessTokenError",
    "FcmSender",
    "GoogleAccessTokens",
    "LogSender",
    "PushOutcome",
    "PushResult",
    "PushSender",
    "ServiceAccount",
    "ServiceAccountError",
    "build_push_sender",
    "make_push_http_client",
    "token_hint",
]
