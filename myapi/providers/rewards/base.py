"""The reward (gift code) vendor interface.

A redemption saga asks a vendor to issue one gift code per redemption. The redemption id
is the vendor's idempotency key: asking again with the same key never issues a second
code, it answers the order already placed under that key.

What a call's outcome means for the caller:

* a `VendorOrder`            -> the vendor's answer: ISSUED (with the code), PENDING (ask
  again later with `status`) or FAILED (definitive, with a reason).
* `VendorRejectedError`      -> a definitive refusal (out of stock, unknown SKU, the key
  reused for a different request, bad credentials): no code was issued, compensate.
* `VendorUnavailableError`   -> the vendor did not accept the request (it could not be
  sent, or was answered 5xx/429 on every attempt): no order was placed by this call.
* `VendorTimeoutError`       -> the OUTCOME IS UNKNOWN: the request may have reached the
  vendor and been processed, but no usable answer was read (read timeout, connection
  dropped after sending, gateway timeout, unreadable answer). The caller must not
  compensate on this: it asks `status(key)` (later, again if need be) and acts on that.

For `status` both `VendorTimeoutError` and `VendorUnavailableError` mean "no answer now,
ask again later"; `None` means the vendor has no order under that key.

Issued codes are secrets: `VendorOrder`'s repr redacts the code, and no exception message
or log line carries one (`dataclasses.asdict(order)` does: never log that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

OrderStatus = Literal["ISSUED", "PENDING", "FAILED"]
ORDER_STATUSES: frozenset[str] = frozenset({"ISSUED", "PENDING", "FAILED"})
REDACTED = "<redacted>"


@dataclass(frozen=True, repr=False)
class VendorOrder:
    key: str  # the idempotency key (the redemption id)
    status: OrderStatus
    code: str | None = None  # the gift code, when ISSUED; a secret
    reason: str | None = None  # why, when FAILED (or what the vendor said about PENDING)

    def __repr__(self) -> str:
        code = REDACTED if self.code is not None else None
        return f"VendorOrder(key={self.key!r}, status={self.status!r}, code={code!s}, reason={self.reason!r})"

    __str__ = __repr__


class VendorError(Exception):
    """Base of every reward vendor failure. Messages never carry a code or an API key."""


class VendorUnavailableError(VendorError):
    """The request was not accepted (not sent, or answered 5xx/429 after every retry):
    no order was placed by this call."""


class VendorTimeoutError(VendorError):
    """The outcome is unknown: the request may have been processed by the vendor. Ask
    `status(key)` before doing anything else (never compensate on this alone)."""


class VendorRejectedError(VendorError):
    """A definitive refusal (4xx with a reason): no code was issued under this request."""

    def __init__(self, message: str, *, reason: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status_code = status_code


class RewardVendor(Protocol):
    name: str

    def issue(self, key: str, sku: str, user_ref: str) -> VendorOrder:
        """Place (or find, when `key` was seen before) the order for one gift code.
        Raises VendorRejectedError, VendorUnavailableError or VendorTimeoutError."""
        ...

    def status(self, key: str) -> VendorOrder | None:
        """The order placed under `key`, or None when the vendor has none.
        Raises VendorUnavailableError or VendorTimeoutError when it cannot tell now."""
        ...
