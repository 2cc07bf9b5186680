"""Reward (gift code) vendors behind one interface (`RewardVendor`): the HTTP vendor
client and a deterministic offline sandbox for development. See base.py for what each
outcome means to a redemption saga."""

from __future__ import annotations

from myapi.providers.rewards.base import (
    OrderStatus,
    RewardVendor,
    VendorError,
    VendorOrder,
    VendorRejectedError,
    VendorTimeoutError,
    VendorUnavailableError,
)
from myapi.providers.rewards.http import HttpRewardVendor
from myapi.providers.rewards.sandbox import SandboxRewardVendor, sandbox_code

__all__ = [
    "HttpRewardVendor",
    "OrderStatus",
    "RewardVendor",
    "SandboxRewardVendor",
    "VendorError",
    "VendorOrder",
    "VendorRejectedError",
    "VendorTimeoutError",
    "VendorUnavailableError",
    "sandbox_code",
]
