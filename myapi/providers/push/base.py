"""The push sender interface: one message to one device token.

What an outcome means to the caller (myapi/push/delivery.py):

* `SENT`          -> the provider accepted the message for the device: done.
* `INVALID_TOKEN` -> the provider says the token is no longer (or never was) a device of
  ours (FCM: 404 UNREGISTERED, 400 INVALID_ARGUMENT naming the token, 403
  SENDER_ID_MISMATCH): the device is deleted, nothing is retried.
* `RETRY`         -> not delivered now (429, 5xx, a timeout, credentials refused), after
  the sender's own bounded retries: try again on a later pass, not before
  `retry_after_s` when the provider said so.
* `REJECTED`      -> the provider refused this message for a reason other than its
  token (a malformed payload): retrying the same message cannot help.

A sender never touches the database and is called outside any transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class PushResult(StrEnum):
    SENT = "SENT"
    INVALID_TOKEN = "INVALID_TOKEN"
    RETRY = "RETRY"
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class PushOutcome:
    result: PushResult
    retry_after_s: float | None = None  # RETRY: the provider's Retry-After, if it gave one
    detail: str = ""  # what the provider said (never a token or a credential)

    @classmethod
    def sent(cls, detail: str = "") -> PushOutcome:
        return cls(PushResult.SENT, detail=detail)

    @classmethod
    def invalid_token(cls, detail: str) -> PushOutcome:
        return cls(PushResult.INVALID_TOKEN, detail=detail)

    @classmethod
    def retry(cls, detail: str, after_s: float | None = None) -> PushOutcome:
        return cls(PushResult.RETRY, retry_after_s=after_s, detail=detail)

    @classmethod
    def rejected(cls, detail: str) -> PushOutcome:
        return cls(PushResult.REJECTED, detail=detail)


class PushSender(Protocol):
    name: str

    @property
    def max_send_s(self) -> float:
        """The longest one `send` can take, its retries and waits included: a delivery
        is leased for at least this long before it is sent."""
        ...

    def send(self, token: str, title: str, body: str, data: Mapping[str, str]) -> PushOutcome:
        """Deliver one notification to one device token (`data` values are strings)."""
        ...


def token_hint(token: str) -> str:
    """What a log line may say about a device token (its last characters only)."""
    return "…" + token[-6:]
