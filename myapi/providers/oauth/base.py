"""The OAuth 2.0 authorization-code provider interface (with PKCE S256)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx


class OAuthCodeRejected(Exception):
    """The provider refused the code (invalid, expired, already used, PKCE mismatch)."""


class OAuthProviderUnavailable(Exception):
    """The provider timed out, could not be reached, or answered with an error/garbage."""


@dataclass(frozen=True)
class OAuthIdentity:
    provider_id: str
    email: str | None
    nickname: str | None


@dataclass(frozen=True)
class OAuthEndpoints:
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    userinfo_url: str
    scope: str


class OAuthProvider(Protocol):
    name: str

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str: ...

    def identify(self, *, code: str, code_verifier: str, redirect_uri: str) -> OAuthIdentity:
        """Exchange the code (with the PKCE verifier) and read the user's identity."""
        ...


class HttpOAuthProvider(ABC):
    """The authorization-code flow over httpx; subclasses map the userinfo payload."""

    name = ""

    def __init__(self, endpoints: OAuthEndpoints, http: httpx.Client) -> None:
        self.endpoints = endpoints
        self.http = http

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.endpoints.client_id,
                "redirect_uri": redirect_uri,
                "scope": self.endpoints.scope,
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if "?" in self.endpoints.authorize_url else "?"
        return f"{self.endpoints.authorize_url}{separator}{query}"

    def identify(self, *, code: str, code_verifier: str, redirect_uri: str) -> OAuthIdentity:
        access_token = self._exchange(code, code_verifier, redirect_uri)
        payload = self._get_json(
            self.endpoints.userinfo_url, headers={"Authorization": f"Bearer {access_token}"}
        )
        return self.parse_userinfo(payload)

    @abstractmethod
    def parse_userinfo(self, payload: dict[str, Any]) -> OAuthIdentity:
        """Map the provider's userinfo payload to an identity."""

    def _exchange(self, code: str, code_verifier: str, redirect_uri: str) -> str:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.endpoints.client_id,
            "client_secret": self.endpoints.client_secret,
            "code_verifier": code_verifier,
        }
        try:
            response = self.http.post(
                self.endpoints.token_url, data=form, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise OAuthProviderUnavailable(f"{self.name} token endpoint: {exc!r}") from exc
        if response.status_code in (400, 401):
            # invalid_grant and friends: the code (or verifier) is not acceptable.
            raise OAuthCodeRejected(f"{self.name} refused the code: {response.text[:200]}")
        body = self._json_body(response, "token endpoint")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise OAuthProviderUnavailable(f"{self.name} token response has no access_token")
        return token

    def _get_json(self, url: str, headers: dict[str, str]) -> dict[str, Any]:
        try:
            response = self.http.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise OAuthProviderUnavailable(f"{self.name} userinfo endpoint: {exc!r}") from exc
        return self._json_body(response, "userinfo endpoint")

    def _json_body(self, response: httpx.Response, what: str) -> dict[str, Any]:
        if response.status_code != 200:
            raise OAuthProviderUnavailable(f"{self.name} {what} answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise OAuthProviderUnavailable(f"{self.name} {what} sent invalid JSON") from exc
        if not isinstance(body, dict):
            raise OAuthProviderUnavailable(f"{self.name} {what} sent unexpected JSON")
        return body
