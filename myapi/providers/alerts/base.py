"""What an alert sink is: somewhere an operator alert is posted (`AlertSink.post`),
raising `AlertDeliveryError` when it could not be delivered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class AlertDeliveryError(RuntimeError):
    """The alert was not delivered (the caller keeps it unsent and tries again later).
    The message never carries the webhook URL (it is a secret) nor a response body."""


@dataclass(frozen=True)
class AlertMessage:
    """One alert as posted: a title and the lines under it."""

    title: str
    lines: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """Plain text both Slack (mrkdwn) and Discord (markdown) render: the title in
        bold, then one line each."""
        return "\n".join([f"*{self.title}*", *self.lines])


class AlertSink(Protocol):
    name: str

    @property
    def max_duration_s(self) -> float:
        """The longest one `post` can take (every attempt timing out, with the waits
        between): how long a claimed alert stays claimed by its sender."""
        ...

    def post(self, message: AlertMessage) -> None:
        """Deliver `message`, or raise AlertDeliveryError."""
        ...
