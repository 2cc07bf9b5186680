"""A deterministic, offline reward vendor for development, `make run` and demos.

Like the sandbox EOD provider it is for development only: its codes are worthless and
derivable by anyone who knows a redemption id, so configuration must refuse it in
production (that check belongs to the configuration, not to this module).

    code(key, sku) = "SBX-" + three dash-separated groups of 4 characters, taken from
                     sha256(f"{key}|{sku}") (see sandbox_code)
                     (alphabet without 0/O/1/I; 60 bits, so distinct keys give distinct codes)

`issue` answers ISSUED at once and is idempotent per key: the same key (with the same SKU
and user) always answers the same order; the key reused with another SKU or user is
refused (`VendorRejectedError`, as a real vendor answers 409). SKUs listed in
`rejected_skus` are refused as out of stock, to exercise the saga's compensation.

Orders are kept in memory (thread-safe), so they do not survive a restart. That is still
correct for a saga, because the code is derived from the key, not stored:

* `issue` called again after a restart with the same key answers the SAME code, so a
  saga that retries `issue` after a crash never gets a second code;
* `status` of a key this process has not issued answers None ("no such order"). The
  sandbox never times out, so a saga only asks `status` after an `issue` it saw fail;
  a saga that compensated on None must not `issue` that key again (the saga's rule with
  any vendor).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Collection

from myapi.providers.rewards.base import VendorOrder, VendorRejectedError

CODE_PREFIX = "SBX"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 symbols, 5 bits each
CODE_GROUPS = 3
GROUP_LENGTH = 4


def sandbox_code(key: str, sku: str) -> str:
    """The sandbox's code for (key, sku): the same on every process and machine."""
    number = int.from_bytes(hashlib.sha256(f"{key}|{sku}".encode()).digest()[:8], "big")
    symbols = []
    for _ in range(CODE_GROUPS * GROUP_LENGTH):
        number, index = divmod(number, len(CODE_ALPHABET))
        symbols.append(CODE_ALPHABET[index])
    groups = [
        "".join(symbols[i : i + GROUP_LENGTH]) for i in range(0, CODE_GROUPS * GROUP_LENGTH, GROUP_LENGTH)
    ]
    return "-".join([CODE_PREFIX, *groups])


class SandboxRewardVendor:
    def __init__(self, name: str = "sandbox", rejected_skus: Collection[str] = ()) -> None:
        self.name = name
        self.rejected_skus = frozenset(rejected_skus)
        self._lock = threading.Lock()
        self._orders: dict[str, tuple[str, str, VendorOrder]] = {}  # key -> (sku, user_ref, order)

    def issue(self, key: str, sku: str, user_ref: str) -> VendorOrder:
        if not key:
            raise ValueError("an idempotency key is required")
        with self._lock:
            placed = self._orders.get(key)
            if placed is not None:
                placed_sku, placed_user, order = placed
                if (placed_sku, placed_user) != (sku, user_ref):
                    reason = "idempotency key reused with a different request"
                    raise VendorRejectedError(
                        f"{self.name} issue {key}: {reason}", reason=reason, status_code=409
                    )
                return order
            if sku in self.rejected_skus:
                reason = "out of stock"
                raise VendorRejectedError(
                    f"{self.name} issue {key}: {reason}", reason=reason, status_code=422
                )
            order = VendorOrder(key=key, status="ISSUED", code=sandbox_code(key, sku))
            self._orders[key] = (sku, user_ref, order)
            return order

    def status(self, key: str) -> VendorOrder | None:
        with self._lock:
            placed = self._orders.get(key)
        return placed[2] if placed is not None else None
