"""The console's files: the bundle of `static/` with the modules it shares with the player
page (myapi/core/webassets.py reads and serves both, `myapi/core/webshared/` under
`shared/`) and the sign-ins the console offers, back to /admin/ui/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from myapi.core.config import Settings
from myapi.core.webassets import CONTENT_SECURITY_POLICY
from myapi.core.webassets import SignInOptions as PageSignInOptions

__all__ = ["CONTENT_SECURITY_POLICY", "STATIC_DIR", "UI_PATH", "SignInOptions"]

STATIC_DIR = Path(__file__).parent / "static"
UI_PATH = "/admin/ui/"


@dataclass(frozen=True)
class SignInOptions(PageSignInOptions):
    """How an operator can sign in on this deployment (rendered into the page): the
    providers' allow-listed redirect URIs are those that end at the console."""

    @classmethod
    def of(cls, settings: Settings) -> SignInOptions:
        return cls.for_page(settings, UI_PATH)

