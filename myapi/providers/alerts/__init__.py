"""Where operator alerts go, behind one interface (`AlertSink`): a chat webhook that
Slack and Discord both accept (`WebhookSink`), or the log (`LogSink`) when
ALERT_WEBHOOK_URL is empty."""

from __future__ import annotations

import httpx

from myapi.core.config import Settings
from myapi.providers.alerts.base import AlertDeliveryError, AlertMessage, AlertSink
from myapi.providers.alerts.log import LogSink
from myapi.providers.alerts.webhook import WebhookSink, payload


def make_alert_http_client(settings: Settings) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(settings.alert_http_timeout_s),
        follow_redirects=False,
        headers={"User-Agent": "oxuniverse/0.1"},
    )


def build_alert_sink(settings: Settings, http: httpx.Client) -> AlertSink:
    """The webhook at ALERT_WEBHOOK_URL, or the log when it is empty."""
    if not settings.alert_webhook_url:
        return LogSink()
    return WebhookSink(http, settings.alert_webhook_url, timeout_s=settings.alert_http_timeout_s)


__all__ = [
    "AlertDeliveryError",
    "AlertMessage",
    "AlertSink",
    "LogSink",
    "WebhookSink",
    "build_alert_sink",
    "make_alert_http_client",
    "payload",
]
