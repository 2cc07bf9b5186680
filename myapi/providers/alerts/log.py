"""The sink without a webhook (ALERT_WEBHOOK_URL empty, the development default): every
alert is a WARNING log line (and still recorded, deduplicated and throttled)."""

from __future__ import annotations

import logging

from myapi.providers.alerts.base import AlertMessage

logger = logging.getLogger("myapi.alerts")


class LogSink:
    name = "log"

    @property
    def max_duration_s(self) -> float:
        return 1.0

    def post(self, message: AlertMessage) -> None:
        logger.warning(
            "ALERT %s",
            message.title,
            extra={"alert_title": message.title, "alert_lines": list(message.lines)},
        )
