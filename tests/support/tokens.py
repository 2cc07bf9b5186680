"""Hand-made access-token claims for tests that sign their own tokens (tests/auth)."""

from __future__ import annotations

import uuid
from typing import Any

from myapi.core.clock import Clock
from myapi.core.config import Settings

DROP = object()  # as an override's value: leave that claim out


def access_claims(settings: Settings, clock: Clock, user_id: int, **overrides: Any) -> dict[str, Any]:
    """The claims of a valid player access token issued now, without `ep` or `fam` (as a
    token issued before the epoch existed); `overrides` set, or DROP, any claim."""
    now = int(clock.now().timestamp())
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "role": "USER",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + settings.access_token_ttl_s,
    }
    for name, value in overrides.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims
