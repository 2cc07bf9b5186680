"""Reward (gift code) vendors behind one interface (`RewardVendor`): the HTTP vendor
client and a deterministic offline sandbox for development. See base.py for what each
outcome means to a redemption saga."""

from __future__ import annotations

import httpx

from myapi.core.config import Settings
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

SANDBOX_VENDOR = "sandbox"


def make_reward_http_client(settings: Settings) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(
            settings.reward_vendor_read_timeout_s, connect=settings.reward_vendor_connect_timeout_s
        ),
        follow_redirects=False,
        headers={"User-Agent": "oxuniverse/0.1"},
    )


def build_reward_vendors(settings: Settings, http: httpx.Client) -> dict[str, RewardVendor]:
    """The vendors a catalog item may name (`rewards_inventory.vendor`), by name: the
    offline sandbox where REWARD_SANDBOX_ENABLED (never in production), and the HTTP
    vendor when REWARD_VENDOR_URL is set."""
    vendors: dict[str, RewardVendor] = {}
    if settings.reward_sandbox_enabled:
        vendors[SANDBOX_VENDOR] = SandboxRewardVendor(SANDBOX_VENDOR)
    if settings.reward_vendor_url:
        vendors[settings.reward_vendor_name] = HttpRewardVendor(
            http,
            settings.reward_vendor_url,
            settings.reward_vendor_api_key,
            name=settings.reward_vendor_name,
            retries=settings.reward_vendor_retries,
            connect_timeout_s=settings.reward_vendor_connect_timeout_s,
            read_timeout_s=settings.reward_vendor_read_timeout_s,
        )
    return vendors


__all__ = [
    "SANDBOX_VENDOR",
    "build_reward_vendors",
    "make_reward_http_client",
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
