"""Settings a production deployment accepts (no development value left in place)."""

from __future__ import annotations

import json

from myapi.auth.keys import generate_private_pem

STRONG = "s" * 40
PRODUCTION_OK = {
    "environment": "production",
    "internal_token": STRONG,
    "ad_callback_secret": STRONG + "a",
    "vendor_webhook_secret": STRONG + "v",
    "dev_login_enabled": False,
    "eod_provider": "yfinance",
    "reward_sandbox_enabled": False,
    "push_provider": "none",  # PUSH_PROVIDER=log is refused; fcm needs a service account key
    "jwt_private_keys": json.dumps({"prod-1": generate_private_pem()}),
    "metrics_token": STRONG + "m",  # /metrics needs a bearer token in production
}
