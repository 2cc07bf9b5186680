"""The player page's files (the bundle of `static/` with the modules it shares with the
console, `myapi/core/webshared/` under `shared/`, read and served by
myapi/core/webassets.py) and what the page is told about this
deployment: its sign-ins (back to `/`) and whether "watch an ad" can use the
development receipt."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from myapi.core.config import Settings
from myapi.core.webassets import SignInOptions

STATIC_DIR = Path(__file__).parent / "static"
PAGE_PATH = "/"


@dataclass(frozen=True)
class PageOptions:
    """Rendered into the page (`<meta name="oxu-config">`); nothing of any player."""

    sign_in: SignInOptions
    # POST /v1/ads/dev-receipt exists (every deployment but production, as create_app
    # mounts it): the page's "watch an ad" signs a test receipt there. In production
    # the ads are the mobile app's (a real ad network signs the receipt).
    dev_ads: bool

    @classmethod
    def of(cls, settings: Settings) -> PageOptions:
        return cls(SignInOptions.for_page(settings, PAGE_PATH), dev_ads=not settings.is_production)

    def as_json(self) -> str:
        return json.dumps({**self.sign_in.as_dict(), "dev_ads": self.dev_ads}, sort_keys=True)
