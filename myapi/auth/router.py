"""/v1/auth: OAuth login, dev login, token refresh, logout; and the public JWKS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import RedirectResponse

from myapi.auth.guards import CurrentUserDep
from myapi.auth.schemas import (
    DevLoginIn,
    LoginOut,
    LogoutOut,
    OAuthCallbackIn,
    ProviderName,
    RefreshIn,
    SignupBonusOut,
    TokensOut,
)
from myapi.auth.service import LoginResult, OAuthCodeError
from myapi.core.deps import ContainerDep
from myapi.core.schemas import Envelope, ErrorEnvelope, ok
from myapi.deps import AuthServiceDep
from myapi.ratelimit.deps import rate_limit
from myapi.users.schemas import me_out

router = APIRouter(prefix="/v1/auth", tags=["auth"], dependencies=[Depends(rate_limit)])
dev_router = APIRouter(prefix="/v1/auth", tags=["auth"], dependencies=[Depends(rate_limit)])
jwks_router = APIRouter(tags=["auth"])

AUTH_ERRORS: dict[int | str, dict[str, object]] = {
    400: {
        "model": ErrorEnvelope,
        "description": "OAUTH_001 code rejected, OAUTH_002 bad state, OAUTH_004 redirect refused",
    },
    502: {"model": ErrorEnvelope, "description": "OAUTH_003 provider error or timeout"},
}
# Signing in to an account that may not sign in (public routes: no guard answers these).
REFUSED_ACCOUNT: dict[int | str, dict[str, object]] = {
    403: {
        "model": ErrorEnvelope,
        "description": "AUTH_004 the account is deactivated, AUTH_005 the account is suspended",
    },
}
REFRESH_ERRORS: dict[int | str, dict[str, object]] = {
    401: {
        "model": ErrorEnvelope,
        "description": "AUTH_002 refresh token invalid, expired, revoked, or reused (reuse revokes the "
        "whole family)",
    },
}


def _login_out(result: LoginResult) -> LoginOut:
    return LoginOut(
        access_token=result.tokens.access_token,
        refresh_token=result.tokens.refresh_token,
        expires_in=result.tokens.expires_in,
        user=me_out(result.user, result.points_balance),
        is_new_user=result.is_new_user,
        reactivated=result.reactivated,
        signup_bonus=None if result.signup_bonus is None else SignupBonusOut(**result.signup_bonus.__dict__),
    )


@router.get(
    "/oauth/{provider}/authorize",
    status_code=302,
    response_class=RedirectResponse,
    responses=AUTH_ERRORS,
    summary="Start the OAuth flow: 302 to the provider with state and a PKCE S256 challenge",
)
def authorize(
    provider: ProviderName,
    service: AuthServiceDep,
    redirect_uri: Annotated[str, Query(min_length=1, max_length=2048)],
) -> RedirectResponse:
    """Starts a sign-in with Google or Kakao: answers 302 to the provider's consent page with a
    one-time state and a PKCE S256 challenge. `redirect_uri` must be on the deployment's allow-list
    (`OAUTH_004` otherwise); the provider sends the browser back there with a code."""
    url = service.start_authorization(provider.key, redirect_uri)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


@router.post(
    "/oauth/callback",
    responses={**AUTH_ERRORS, **REFUSED_ACCOUNT},
    summary="Finish the OAuth flow (app clients): exchange the code, log in",
)
def oauth_callback(body: OAuthCallbackIn, service: AuthServiceDep) -> Envelope[LoginOut]:
    """Finishes a sign-in for app clients: exchanges the provider's code (with the state and the
    redirect_uri the flow started with) and answers the token pair, my profile, whether the account
    is new and the signup bonus of a first login. A suspended or deactivated account is refused with
    403."""
    result = service.complete_authorization(body.provider.key, body.code, body.state, body.redirect_uri)
    return ok(_login_out(result))


@router.get(
    "/oauth/{provider}/callback",
    responses={**AUTH_ERRORS, **REFUSED_ACCOUNT},
    summary="Finish the OAuth flow (browser redirect target)",
)
def oauth_browser_callback(
    provider: ProviderName,
    service: AuthServiceDep,
    state: Annotated[str, Query(min_length=1, max_length=128)],
    code: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Envelope[LoginOut]:
    """Finishes a sign-in for browsers: the provider redirects here with `code` and `state`; the answer
    is the same as the app clients' callback. A declined consent (no code) is `OAUTH_001`."""
    if error or not code:
        # The user declined, or the provider sent no code.
        raise OAuthCodeError("The provider returned no authorization code", details={"error": error})
    result = service.complete_authorization(provider.key, code, state, None)
    return ok(_login_out(result))


@router.post(
    "/token/refresh", responses=REFRESH_ERRORS, summary="Rotate a refresh token for a new token pair"
)
def refresh(body: RefreshIn, service: AuthServiceDep) -> Envelope[TokensOut]:
    """Rotates a refresh token: the presented one is retired and a new access and refresh token pair is
    issued in the same family. A token that was already used means it leaked: the whole family is
    revoked and the call is refused with 401 `AUTH_002`."""
    _user, tokens = service.refresh(body.refresh_token)
    return ok(
        TokensOut(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_in=tokens.expires_in,
        )
    )


@router.post("/logout", summary="Revoke the refresh-token family of this login")
def logout(body: RefreshIn, user: CurrentUserDep, service: AuthServiceDep) -> Envelope[LogoutOut]:
    """Signs out one login: revokes the refresh-token family of the given refresh token (if it is mine)
    and answers how many tokens were revoked. The access tokens of that login stop working at once
    (401 `AUTH_001` on their next request, this one included); my other logins are untouched. Logging
    out again with another login's access token answers `revoked: 0`."""
    revoked = service.logout(user.id, body.refresh_token)
    return ok(LogoutOut(revoked=revoked))


@dev_router.post(
    "/dev-login",
    responses=REFUSED_ACCOUNT,
    summary="Development only: tokens for an email without a provider (absent in production)",
)
def dev_login(body: DevLoginIn, service: AuthServiceDep) -> Envelope[LoginOut]:
    """Development and test sign-in without a provider: tokens for an email address (the account is
    created on first use), optionally with a nickname or a role so operator flows can be tried
    locally. The route does not exist in production."""
    result = service.dev_login(str(body.email), body.nickname, body.role)
    return ok(_login_out(result))


@jwks_router.get(
    "/.well-known/jwks.json",
    summary="Public keys that verify access tokens (RFC 7517; not wrapped in the envelope)",
)
def jwks(container: ContainerDep) -> dict[str, list[dict[str, str]]]:
    """The public keys that verify the API's RS256 access tokens, as an RFC 7517 key set (not wrapped
    in the envelope). Other services can verify a player's token with them."""
    return container.key_ring().jwks()
