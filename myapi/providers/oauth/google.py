from __future__ import annotations

from typing import Any

from myapi.providers.oauth.base import HttpOAuthProvider, OAuthIdentity, OAuthProviderUnavailable


class GoogleOAuthProvider(HttpOAuthProvider):
    """Google OpenID Connect: userinfo gives `sub`, `email`, `email_verified`, `name`."""

    name = "GOOGLE"

    def parse_userinfo(self, payload: dict[str, Any]) -> OAuthIdentity:
        subject = payload.get("sub")
        if not subject:
            raise OAuthProviderUnavailable("google userinfo has no sub")
        email = payload.get("email")
        # An unverified address is not an identity we may key on or display.
        if not payload.get("email_verified", False):
            email = None
        return OAuthIdentity(
            provider_id=str(subject),
            email=str(email).lower() if email else None,
            nickname=payload.get("name") or payload.get("given_name"),
        )
