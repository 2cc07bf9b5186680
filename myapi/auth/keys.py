"""RS256 signing keys: several may be active so keys can rotate.

* `JWT_PRIVATE_KEYS` = JSON {kid: PEM private key}; `JWT_SIGNING_KID` picks the signer
  (default: the last one listed). Every listed key also verifies.
* `JWT_PUBLIC_KEYS` = JSON {kid: PEM public key}: retired keys that still verify tokens
  issued before the rotation, until those expire.
* Outside production, with no keys configured, a key pair is generated once into
  `.local/jwt/` and reused across restarts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from myapi.core.config import ConfigurationError, Settings

DEV_KEY_DIR = Path(__file__).resolve().parents[2] / ".local" / "jwt"


@dataclass(frozen=True)
class VerificationKey:
    kid: str
    public_pem: str
    jwk: dict[str, str]


@dataclass(frozen=True)
class KeyRing:
    signing_kid: str
    signing_pem: str
    verification: dict[str, VerificationKey]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [key.jwk for key in self.verification.values()]}


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _public_from_pem(pem: str, private: bool) -> rsa.RSAPublicKey:
    data = pem.encode()
    key: Any = (
        serialization.load_pem_private_key(data, password=None)
        if private
        else serialization.load_pem_public_key(data)
    )
    public = key.public_key() if private else key
    if not isinstance(public, rsa.RSAPublicKey):
        raise ConfigurationError("JWT keys must be RSA keys (RS256)")
    if public.key_size < 2048:
        raise ConfigurationError("JWT RSA keys must be at least 2048 bits")
    return public


def _verification_key(kid: str, public: rsa.RSAPublicKey) -> VerificationKey:
    numbers = public.public_numbers()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    jwk = {
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": _b64url_uint(numbers.n),
        "e": _b64url_uint(numbers.e),
    }
    return VerificationKey(kid=kid, public_pem=pem, jwk=jwk)


def _parse_key_map(raw: str, variable: str) -> dict[str, str]:
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{variable} must be a JSON object {{kid: PEM}}") from exc
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise ConfigurationError(f"{variable} must be a JSON object {{kid: PEM}}")
    return parsed


def generate_private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def thumbprint_kid(private_pem: str) -> str:
    public = _public_from_pem(private_pem, private=True)
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


def _dev_key(environment: str) -> dict[str, str]:
    DEV_KEY_DIR.mkdir(parents=True, exist_ok=True)
    path = DEV_KEY_DIR / f"{environment}-signing.pem"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(generate_private_pem())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)  # atomic: concurrent starters end with one key
    pem = path.read_text()
    return {thumbprint_kid(pem): pem}


def load_key_ring(settings: Settings) -> KeyRing:
    private = _parse_key_map(settings.jwt_private_keys, "JWT_PRIVATE_KEYS")
    if not private:
        if settings.is_production:
            raise ConfigurationError("JWT_PRIVATE_KEYS is empty; production needs signing keys")
        private = _dev_key(settings.environment)
    public = _parse_key_map(settings.jwt_public_keys, "JWT_PUBLIC_KEYS")

    verification: dict[str, VerificationKey] = {}
    for kid, pem in private.items():
        verification[kid] = _verification_key(kid, _public_from_pem(pem, private=True))
    for kid, pem in public.items():
        if kid in verification:
            raise ConfigurationError(f"JWT key id {kid!r} is listed twice")
        verification[kid] = _verification_key(kid, _public_from_pem(pem, private=False))

    signing_kid = settings.jwt_signing_kid or list(private)[-1]
    if signing_kid not in private:
        raise ConfigurationError(f"JWT_SIGNING_KID {signing_kid!r} is not in JWT_PRIVATE_KEYS")
    return KeyRing(signing_kid=signing_kid, signing_pem=private[signing_kid], verification=verification)
