from __future__ import annotations

from typing import Any

from myapi.providers.oauth.base import HttpOAuthProvider, OAuthIdentity, OAuthProviderUnavailable


class KakaoOAuthProvider(HttpOAuthProvider):
    """Kakao Login: `/v2/user/me` gives `id`, `kakao_account.email` (+ is_email_verified)
    and `kakao_account.profile.nickname` (or `properties.nickname`)."""

    name = "KAKAO"

    def parse_userinfo(self, payload: dict[str, Any]) -> OAuthIdentity:
        subject = payload.get("id")
        if subject in (None, ""):
            raise OAuthProviderUnavailable("kakao user/me has no id")
        account = payload.get("kakao_account") or {}
        email = account.get("email")
        if email and account.get("is_email_verified") is False:
            email = None
        profile = account.get("profile") or {}
        properties = payload.get("properties") or {}
        return OAuthIdentity(
            provider_id=str(subject),
            email=str(email).lower() if email else None,
            nickname=profile.get("nickname") or properties.get("nickname"),
        )
