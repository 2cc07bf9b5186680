"""Access tokens (RS256 JWT, 1 h) and opaque refresh tokens.

Verification is strict and pinned: the header must say `alg: RS256`, `typ: JWT` and a
known `kid`; the signature must verify with that key; `iss`, `aud`, `exp`, `iat`,
`sub`, `jti` and `role` must be present and right. Every claim is read by its own rule
(integers that are integers, in range; the subject a canonical decimal id): a validly
signed token whose claims are out of range is a 401 like any other bad token, never an
error. Anything else is a 401.

Revocation (docs/auth.md): a token carries the account's token epoch (`ep`) and the
refresh-token family of its login (`fam`); `guards.current_user` compares both with the
database on every request. A token without them was issued before they existed: epoch 0,
no family.
"""

from __future__ import annotations

import hashlib
import re
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
# Clock skew tolerated between the instance that issued a token and the one verifying
# it, for `iat` and `nbf` (expiry has none: `exp` is judged exactly).
CLOCK_LEEWAY_S = 60
MAX_USER_ID = 2**63 - 1  # users.id is a bigint
MAX_EPOCH = 2**31 - 1  # users.token_epoch is an integer
MAX_JTI_LENGTH = 128
_DECIMAL_ID = re.compile(r"[1-9][0-9]{0,18}")  # ASCII digits, no sign, no leading zero
# What python-jose may raise (besides JOSEError) on a token it cannot read: its claim
# checks call int() on whatever the payload holds (an `iat` of Infinity or a list), and a
# header may be JSON that is not an object or nested beyond the parser's depth.
_UNREADABLE = (JOSEError, ValueError, TypeError, OverflowError, RecursionError, KeyError, AttributeError)


class InvalidTokenError(UnauthorizedError):
    code = "AUTH_001"
    message = "Invalid or expired access token"


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    role: UserRole
    jti: str
    expires_at: datetime
    epoch: int = 0  # `ep`; 0 for a token issued before the claim existed
    family_id: uuid.UUID | None = None  # `fam`; None for a token issued before the claim existed


@dataclass(frozen=True)
class IssuedAccessToken:
    token: str
    expires_in: int
    jti: str


def _integer(claims: dict[str, Any], name: str) -> int:
    """A NumericDate or counter claim: a JSON integer (not a float, a boolean or a
    string). Its range is each caller's rule."""
    value = claims.get(name)
    if type(value) is not int:
        raise InvalidTokenError()
    return value


def _string(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidTokenError()
    return value


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

    def issue(
        self,
        user_id: int,
        role: UserRole,
        now: datetime,
        *,
        epoch: int = 0,
        family_id: uuid.UUID | None = None,
    ) -> IssuedAccessToken:
        """A signed access token. The API's logins always give the account's `epoch` and
        the login's `family_id`; without a family (the benchmark scripts mint tokens for
        players who never logged in) the token is tied to no login, like one issued
        before the claim existed."""
        jti = uuid.uuid4().hex
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user_id),
            "role": role.value,
            "jti": jti,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self._ttl)).timestamp()),
            "ep": epoch,
        }
        if family_id is not None:
            claims["fam"] = str(family_id)
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
        except _UNREADABLE as exc:
            raise InvalidTokenError() from exc
        if not isinstance(header, dict):
            raise InvalidTokenError()
        if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE:
            raise InvalidTokenError()
        kid = header.get("kid")
        key = self._verify_keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidTokenError()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                # python-jose checks the signature, `iss`, `aud` and the types of `sub`
                # and `jti`. The times are read below, by the injected clock: its own
                # checks use the wall clock (`require_exp` would turn verify_exp on) and
                # call int() on whatever the claim holds (`require_iat` likewise).
                options={
                    "require_sub": True,
                    "require_jti": True,
                    "require_aud": True,
                    "require_iss": True,
                    "verify_iat": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                },
            )
        except _UNREADABLE as exc:
            raise InvalidTokenError() from exc
        if not isinstance(claims, dict) or any(claims.get(name) in (None, "") for name in REQUIRED_CLAIMS):
            raise InvalidTokenError()
        return self._read_claims(claims, int(now.timestamp()), now)

    def _read_claims(self, claims: dict[str, Any], now_s: int, now: datetime) -> AccessClaims:
        """Every claim by its rule; any out of range is a 401 (InvalidTokenError)."""
        issued = _integer(claims, "iat")
        expires = _integer(claims, "exp")
        # Expiry is judged by the injected clock, so tests can travel in time.
        if expires <= now_s:
            raise InvalidTokenError("Access token expired")
        # Issued in the future (beyond another instance's clock skew), or living longer
        # than the API issues: not a token of ours. Together these bound `iat` and
        # `exp` to [now - ttl, now + ttl + leeway].
        if issued > now_s + CLOCK_LEEWAY_S or expires - issued > self._ttl:
            raise InvalidTokenError()
        if "nbf" in claims:
            not_before = _integer(claims, "nbf")
            if not_before < 0 or not_before > now_s + CLOCK_LEEWAY_S:
                raise InvalidTokenError("Access token not valid yet")
        subject = _string(claims, "sub")
        if _DECIMAL_ID.fullmatch(subject) is None or int(subject) > MAX_USER_ID:
            raise InvalidTokenError()
        try:
            role = UserRole(_string(claims, "role"))
        except ValueError as exc:
            raise InvalidTokenError() from exc
        jti = _string(claims, "jti")
        if len(jti) > MAX_JTI_LENGTH:
            raise InvalidTokenError()
        epoch = 0
        if "ep" in claims:
            epoch = _integer(claims, "ep")
            if not 0 <= epoch <= MAX_EPOCH:
                raise InvalidTokenError()
        family_id: uuid.UUID | None = None
        if "fam" in claims:
            family = _string(claims, "fam")
            try:
                family_id = uuid.UUID(family)
            except ValueError as exc:
                raise InvalidTokenError() from exc
            if str(family_id) != family:  # only the canonical form the API writes
                raise InvalidTokenError()
        return AccessClaims(
            user_id=int(subject),
            role=role,
            jti=jti,
            expires_at=datetime.fromtimestamp(expires, tz=now.tzinfo),
            epoch=epoch,
            family_id=family_id,
        )


def new_refresh_token() -> str:
    """An opaque, unguessable refresh token (only its hash is stored)."""
    return secrets.token_urlsafe(48)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
