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
    url = service.start_authorization(provider.key, redirect_uri)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


@router.post(
    "/oauth/callback",
    responses=AUTH_ERRORS,
    summary="Finish the OAuth flow (app clients): exchange the code, log in",
)
def oauth_callback(body: OAuthCallbackIn, service: AuthServiceDep) -> Envelope[LoginOut]:
    result = service.complete_authorization(body.provider.key, body.code, body.state, body.redirect_uri)
    return ok(_login_out(result))


@router.get(
    "/oauth/{provider}/callback",
    responses=AUTH_ERRORS,
    summary="Finish the OAuth flow (browser redirect target)",
)
def oauth_browser_callback(
    provider: ProviderName,
    service: AuthServiceDep,
    state: Annotated[str, Query(min_length=1, max_length=128)],
    code: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Envelope[LoginOut]:
    if error or not code:
        # The user declined, or the provider sent no code.
        raise OAuthCodeError("The provider returned no authorization code", details={"error": error})
    result = service.complete_authorization(provider.key, code, state, None)
    return ok(_login_out(result))


@router.post("/token/refresh", summary="Rotate a refresh token for a new token pair")
def refresh(body: RefreshIn, service: AuthServiceDep) -> Envelope[TokensOut]:
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
    revoked = service.logout(user.id, body.refresh_token)
    return ok(LogoutOut(revoked=revoked))


@dev_router.post(
    "/dev-login",
    summary="Development only: tokens for an email without a provider (absent in production)",
)
def dev_login(body: DevLoginIn, service: AuthServiceDep) -> Envelope[LoginOut]:
    result = service.dev_login(str(body.email), body.nickname, body.role)
    return ok(_login_out(result))


@jwks_router.get(
    "/.well-known/jwks.json",
    summary="Public keys that verify access tokens (RFC 7517; not wrapped in the envelope)",
)
def jwks(container: ContainerDep) -> dict[str, list[dict[str, str]]]:
    return container.key_ring().jwks()
