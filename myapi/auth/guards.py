"""Access control in one place (the guards every router declares).

* `current_user` — every player route (`/v1`, except the public allow-list below):
  a valid RS256 access token of an active user, issued under the account's current
  token epoch, of a login (refresh-token family) that is still alive.
* `require_admin` — every `/admin` route: `current_user` with role ADMIN.
* `require_internal` — every `/internal` route: the `X-Internal-Token` header, compared
  in constant time; vendor webhooks instead carry an HMAC signature
  (`require_vendor_signature`).

`route_guard()` tells which guard a route has; a test walks `app.routes` and fails for
any route without the guard its prefix demands.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.routing import iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from myapi.audit.middleware import AUDIT_ACTOR
from myapi.auth.tokens import AccessClaims
from myapi.core.db import DbSession
from myapi.core.deps import ContainerDep
from myapi.core.enums import UserRole
from myapi.core.errors import ForbiddenError, UnauthorizedError
from myapi.users.repository import UsersRepository

INTERNAL_ACTOR = "internal:token"  # the scheduler (EventBridge) or an operator's script
VENDOR_ACTOR = "internal:vendor"
bearer_scheme = HTTPBearer(auto_error=False, description="Access token from /v1/auth")


@dataclass(frozen=True)
class CurrentUser:
    id: int
    role: UserRole
    token_jti: str

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN


@dataclass(frozen=True)
class TokenCheck:
    """The bearer token of the request, verified once and shared by every dependency
    that needs it (FastAPI caches a dependency per request). Verifying is CPU only, so
    `token_check` is async: it runs on the event loop, not in the thread pool."""

    claims: AccessClaims | None
    error: UnauthorizedError | None


async def token_check(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> TokenCheck:
    if credentials is None or credentials.scheme.lower() != "bearer":
        return TokenCheck(None, UnauthorizedError(headers={"WWW-Authenticate": "Bearer"}))
    try:
        claims = container.token_codec().verify(credentials.credentials, container.clock().now())
    except UnauthorizedError as exc:
        exc.headers = {"WWW-Authenticate": "Bearer"}
        return TokenCheck(None, exc)
    return TokenCheck(claims, None)


def current_user(
    request: Request, session: DbSession, token: Annotated[TokenCheck, Depends(token_check)]
) -> CurrentUser:
    if token.claims is None:
        raise token.error or UnauthorizedError()
    claims = token.claims
    # One statement per request: the account's role, state and token epoch, and whether
    # the token's login (its refresh-token family) is still alive.
    access = UsersRepository(session).access(claims.user_id, claims.family_id)
    # Refused at once: a deactivated, suspended or deleted account; a token from before the
    # account's sessions were ended (epoch bumped: suspension, reactivation, deletion,
    # demotion); a token of a login that was logged out or caught reusing a refresh token.
    if (
        access is None
        or not access.is_active
        or access.token_epoch != claims.epoch
        or not access.session_live
    ):
        raise UnauthorizedError("Invalid or expired access token", headers={"WWW-Authenticate": "Bearer"})
    # Who the audit of an /admin write names (a player refused by require_admin included).
    setattr(request.state, AUDIT_ACTOR, (f"user:{claims.user_id}", claims.user_id))
    # The role comes from the database, so a promotion takes effect immediately (and a
    # demotion ends the account's sessions through the epoch).
    return CurrentUser(id=claims.user_id, role=access.role, token_jti=claims.jti)


CurrentUserDep = Annotated[CurrentUser, Depends(current_user)]


def require_admin(user: CurrentUserDep) -> CurrentUser:
    if not user.is_admin:
        raise ForbiddenError("Administrator role required")
    return user


AdminDep = Annotated[CurrentUser, Depends(require_admin)]


def require_internal(
    request: Request,
    container: ContainerDep,
    x_internal_token: Annotated[str | None, Header(alias="X-Internal-Token")] = None,
) -> None:
    if not x_internal_token:
        raise UnauthorizedError("X-Internal-Token required")
    expected = container.settings().internal_token
    if not hmac.compare_digest(x_internal_token.encode(), expected.encode()):
        raise ForbiddenError("Invalid internal token")
    setattr(request.state, AUDIT_ACTOR, (INTERNAL_ACTOR, None))


VENDOR_TIMESTAMP_HEADER = "X-Vendor-Timestamp"
VENDOR_SIGNATURE_HEADER = "X-Vendor-Signature"
VENDOR_WINDOW_S = 300


async def require_vendor_signature(request: Request, container: ContainerDep) -> bytes:
    """Vendor webhooks: HMAC-SHA256 over `{timestamp}.{raw body}` with
    VENDOR_WEBHOOK_SECRET, hex in X-Vendor-Signature; the timestamp (unix seconds) must
    be within 5 minutes. Constant-time compare. Returns the verified raw body."""
    timestamp = request.headers.get(VENDOR_TIMESTAMP_HEADER)
    signature = request.headers.get(VENDOR_SIGNATURE_HEADER)
    if not timestamp or not signature:
        raise UnauthorizedError("Vendor signature required", code="VENDOR_001")
    body = await request.body()
    secret = container.settings().vendor_webhook_secret.encode()
    expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise ForbiddenError("Invalid vendor signature", code="VENDOR_002")
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise ForbiddenError("Invalid vendor timestamp", code="VENDOR_003") from exc
    if abs(container.clock().now().timestamp() - sent_at) > VENDOR_WINDOW_S:
        raise ForbiddenError("Vendor timestamp outside the 5-minute window", code="VENDOR_003")
    setattr(request.state, AUDIT_ACTOR, (VENDOR_ACTOR, None))
    return body


# Player-facing routes that are public by design (method, path template).
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/v1/auth/oauth/{provider}/authorize"),
        ("POST", "/v1/auth/oauth/callback"),
        ("GET", "/v1/auth/oauth/{provider}/callback"),
        ("POST", "/v1/auth/token/refresh"),
        ("POST", "/v1/auth/dev-login"),
        ("GET", "/v1/session/today"),
        ("GET", "/v1/universe/today"),
        ("GET", "/v1/settlements/{trading_day}"),
        ("GET", "/v1/rewards/catalog"),
        ("GET", "/v1/results"),
        ("GET", "/v1/crowd/{trading_day}"),
    }
)
# Non-API routes that are public: probes, metrics, docs, keys.
PUBLIC_PREFIXES = ("/health", "/ready", "/metrics", "/docs", "/redoc", "/openapi.json", "/.well-known/")


def _dependency_calls(route: Any) -> set[Callable[..., Any]]:
    calls: set[Callable[..., Any]] = set()
    dependant = getattr(route, "dependant", None)
    stack = list(dependant.dependencies) if dependant is not None else []
    while stack:
        dep = stack.pop()
        if dep.call is not None:
            calls.add(dep.call)
        stack.extend(dep.dependencies)
    return calls


def route_guard(route: Any) -> str:
    """'internal', 'admin', 'user' or 'none' — the strongest guard the route has."""
    calls = _dependency_calls(route)
    if require_internal in calls or require_vendor_signature in calls:
        return "internal"
    if require_admin in calls:
        return "admin"
    if current_user in calls:
        return "user"
    return "none"


def unguarded_routes(routes: Iterable[Any]) -> list[str]:
    """Routes whose guard does not match what their prefix demands."""
    problems: list[str] = []
    # Included routers are resolved lazily by FastAPI; iterate their effective routes,
    # whose dependencies include router-level guards.
    for route in iter_route_contexts(list(routes)):
        if route.path is None:
            continue
        guard = route_guard(route)
        for method in sorted(route.methods or ()):
            where = f"{method} {route.path}"
            if route.path.startswith("/admin"):
                if guard != "admin":
                    problems.append(f"{where}: needs require_admin, has {guard}")
            elif route.path.startswith("/internal"):
                if guard != "internal":
                    problems.append(f"{where}: needs require_internal, has {guard}")
            elif route.path.startswith("/v1"):
                if guard == "none" and (method, route.path) not in PUBLIC_ROUTES:
                    problems.append(f"{where}: needs current_user or the public allow-list")
            elif not route.path.startswith(PUBLIC_PREFIXES) and method != "HEAD":
                problems.append(f"{where}: outside /v1, /admin, /internal and the public prefixes")
    return problems
