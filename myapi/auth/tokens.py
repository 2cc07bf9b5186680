"""Access tokens (RS256 JWT, 1 h) and opaque refresh tokens.

Verification is strict and pinned: the header must say `alg: RS256`, `typ: JWT` and a
known `kid`; the signature must verify with that key; `iss`, `aud`, `exp`, `iat`,
`sub`, `jti` and `role` must be present and right. Anything else is a 401.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jose import jwk, jwt
from jose.exceptions import JOSEError

from myapi.auth.keys import KeyRing
from myapi.core.config import Settings
from myapi.core.enums import UserRole
from myapi.core.errors import UnauthorizedError

ALGORITHM = "RS256"
TOKEN_TYPE = "JWT"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "role", "jti", "iat", "exp")


class InvalidTokenError(UnauthorizedError):
    code = "AUTH_001"
    message = "Invalid or expired access token"


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    role: UserRole
    jti: str
    expires_at: datetime


@dataclass(frozen=True)
class IssuedAccessToken:
    token: str
    expires_in: int
    jti: str


class AccessTokenCodec:
    def __init__(self, keys: KeyRing, settings: Settings) -> None:
        self._keys = keys
        # Parse PEM keys once: python-jose re-parses (and re-validates) a PEM string on
        # every sign/verify, which costs tens of milliseconds per RSA private key.
        self._signing_key = jwk.construct(keys.signing_pem, ALGORITHM)
        self._verify_keys = {
            kid: jwk.construct(key.public_pem, ALGORITHM) for kid, key in keys.verification.items()
        }
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._ttl = settings.access_token_ttl_s

    def issue(self, user_id: int, role: UserRole, now: datetime) -> IssuedAccessToken:
        jti = uuid.uuid4().hex
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user_id),
            "role": role.value,
            "jti": jti,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self._ttl)).timestamp()),
        }
        token = jwt.encode(
            claims,
            self._signing_key,
            algorithm=ALGORITHM,
            headers={"kid": self._keys.signing_kid, "typ": TOKEN_TYPE},
        )
        return IssuedAccessToken(token=token, expires_in=self._ttl, jti=jti)

    def verify(self, token: str, now: datetime) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError as exc:
            raise InvalidTokenError() from exc
        if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE:
            raise InvalidTokenError()
        key = self._verify_keys.get(str(header.get("kid", "")))
        if key is None:
            raise InvalidTokenError()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                # Presence of every claim is checked below. `require_exp` is left out on
                # purpose: python-jose turns it into verify_exp against the wall clock,
                # and expiry is judged by the injected clock instead.
                options={
                    "require_iat": True,
                    "require_sub": True,
                    "require_jti": True,
                    "require_aud": True,
                    "require_iss": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                },
            )
        except JOSEError as exc:
            raise InvalidTokenError() from exc
        if any(claims.get(name) in (None, "") for name in REQUIRED_CLAIMS):
            raise InvalidTokenError()
        try:
            expires = int(claims["exp"])
            user_id = int(claims["sub"])
            role = UserRole(claims["role"])
        except (TypeError, ValueError) as exc:
            raise InvalidTokenError() from exc
        # Expiry is judged by the injected clock, so tests can travel in time.
        if expires <= int(now.timestamp()):
            raise InvalidTokenError("Access token expired")
        return AccessClaims(
            user_id=user_id,
            role=role,
            jti=str(claims["jti"]),
            expires_at=datetime.fromtimestamp(expires, tz=now.tzinfo),
        )


def new_refresh_token() -> str:
    """An opaque, unguessable refresh token (only its hash is stored)."""
    return secrets.token_urlsafe(48)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
