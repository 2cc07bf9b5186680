"""OAuth providers (Google, Kakao) behind one interface; endpoints come from settings so
tests can point them at a local server."""

from __future__ import annotations

import httpx

from myapi.core.config import Settings
from myapi.providers.oauth.base import (
    OAuthCodeRejected,
    OAuthEndpoints,
    OAuthIdentity,
    OAuthProvider,
    OAuthProviderUnavailable,
)
from myapi.providers.oauth.google import GoogleOAuthProvider
from myapi.providers.oauth.kakao import KakaoOAuthProvider

__all__ = [
    "OAuthCodeRejected",
    "OAuthIdentity",
    "OAuthProvider",
    "OAuthProviderUnavailable",
    "build_oauth_providers",
    "make_oauth_http_client",
]


def make_oauth_http_client(settings: Settings) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(settings.oauth_http_timeout_s),
        follow_redirects=False,
        headers={"User-Agent": "oxuniverse/0.1"},
    )


def build_oauth_providers(settings: Settings, http: httpx.Client) -> dict[str, OAuthProvider]:
    """Provider name (GOOGLE, KAKAO) -> provider."""
    google = GoogleOAuthProvider(
        OAuthEndpoints(
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret,
            authorize_url=settings.google_authorize_url,
            token_url=settings.google_token_url,
            userinfo_url=settings.google_userinfo_url,
            scope="openid email profile",
        ),
        http,
    )
    kakao = KakaoOAuthProvider(
        OAuthEndpoints(
            client_id=settings.kakao_client_id,
            client_secret=settings.kakao_client_secret,
            authorize_url=settings.kakao_authorize_url,
            token_url=settings.kakao_token_url,
            userinfo_url=settings.kakao_userinfo_url,
            scope="profile_nickname account_email",
        ),
        http,
    )
    return {"GOOGLE": google, "KAKAO": kakao}
