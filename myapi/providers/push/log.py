"""A push sender for local development: every message is written to the log and
counts as sent. Refused in production (PUSH_PROVIDER=log)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from myapi.providers.push.base import PushOutcome, token_hint

logger = logging.getLogger(__name__)


class LogSender:
    name = "log"

    @property
    def max_send_s(self) -> float:
        return 1.0

    def send(self, token: str, title: str, body: str, data: Mapping[str, str]) -> PushOutcome:
        logger.info(
            "push (log provider) to device %s: %s — %s",
            token_hint(token), title, body,
            extra={"push_data": dict(data)},
        )  # fmt: skip
        return PushOutcome.sent("logged")
