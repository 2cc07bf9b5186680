"""Alert settings: the sink they build, and what production refuses."""

from __future__ import annotations

import httpx
import pytest

from myapi.core.config import ConfigurationError, Settings
from myapi.providers.alerts import LogSink, WebhookSink, build_alert_sink
from tests.support.production import PRODUCTION_OK


def test_an_empty_webhook_url_logs_and_a_set_one_posts_to_it() -> None:
    with httpx.Client() as http:
        dev = Settings(_env_file=None, environment="development")  # type: ignore[call-arg]
        assert dev.alert_webhook_url == "" and isinstance(build_alert_sink(dev, http), LogSink)
        hooked = dev.model_copy(update={"alert_webhook_url": "https://hooks.slack.com/services/T/B/x"})
        sink = build_alert_sink(hooked, http)
        assert isinstance(sink, WebhookSink) and "services" not in repr(sink)


def test_production_refuses_a_webhook_url_that_is_not_https() -> None:
    with pytest.raises(ConfigurationError, match="ALERT_WEBHOOK_URL must be https://"):
        Settings(_env_file=None, **{**PRODUCTION_OK, "alert_webhook_url": "http://hooks.example/x"})  # type: ignore[call-arg]
    for url in ("", "https://discord.com/api/webhooks/1/abc"):
        settings = Settings(_env_file=None, **{**PRODUCTION_OK, "alert_webhook_url": url})  # type: ignore[call-arg]
        assert settings.production_problems() == []
