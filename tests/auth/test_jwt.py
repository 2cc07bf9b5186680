"""Access-token verification end to end: every forged, stale or malformed token is a
401 AUTH_001 envelope; the role comes from the database; the JWKS publishes the keys;
keys rotate without logging anyone out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from dependency_injector import providers
from fastapi.testclient import TestClient
from jose import jwt
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from myapi.auth.keys import generate_private_pem
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.main import create_app
from tests.support.app import TEST_SIGNING_KID, TEST_SIGNING_PEM, build_test_container, make_settings
from tests.support.http import bearer, dev_login
from tests.support.tokens import DROP, access_claims

ME = "/v1/users/me"

# Extra key pairs, generated once per run.
OLD_PEM = generate_private_pem()
NEW_PEM = generate_private_pem()
OTHER_PEM = generate_private_pem()


def _public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


OLD_PUBLIC_PEM = _public_pem(OLD_PEM)
TEST_PUBLIC_PEM = _public_pem(TEST_SIGNING_PEM)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url_json(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _sign(
    claims: dict[str, Any],
    pem: str = TEST_SIGNING_PEM,
    kid: str = TEST_SIGNING_KID,
    headers: dict[str, Any] | None = None,
) -> str:
    return jwt.encode(claims, pem, algorithm="RS256", headers=headers or {"kid": kid, "typ": "JWT"})


def assert_invalid_token(response: Any) -> None:
    """401 with the AUTH_001 error envelope."""
    assert response.status_code == 401, response.text
    body = response.json()
    assert set(body) == {"success", "data", "error", "meta"}
    assert body["success"] is False
    assert body["data"] is None
    assert body["error"]["code"] == "AUTH_001"
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "details" in body["error"]
    request_id = body["meta"]["request_id"]
    assert isinstance(request_id, str) and request_id
    assert response.headers.get("x-request-id") == request_id
    assert response.headers.get("www-authenticate") == "Bearer"


@pytest.fixture
def login(client: TestClient) -> dict[str, Any]:
    return dev_login(client, f"jwt-{uuid.uuid4().hex[:8]}@example.com")


@pytest.fixture
def user_id(login: dict[str, Any]) -> int:
    return int(login["user"]["id"])


# --- the happy path -------------------------------------------------------------


def test_valid_token_reaches_my_profile(client: TestClient, login: dict[str, Any]) -> None:
    r = client.get(ME, headers=bearer(login["access_token"]))
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True
    assert r.json()["data"]["id"] == login["user"]["id"]


def test_issued_token_has_pinned_header_and_all_claims(
    login: dict[str, Any], settings: Settings, clock: FrozenClock
) -> None:
    token = login["access_token"]
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": TEST_SIGNING_KID, "typ": "JWT"}
    claims = jwt.decode(
        token,
        TEST_PUBLIC_PEM,
        algorithms=["RS256"],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        options={"verify_exp": False},
    )
    now = int(clock.now().timestamp())
    assert claims["sub"] == str(login["user"]["id"])
    assert claims["role"] == "USER"
    assert claims["jti"]
    assert claims["iat"] == now
    assert claims["exp"] == now + settings.access_token_ttl_s


def test_hand_signed_token_with_valid_claims_is_accepted(
    client: TestClient, settings: Settings, clock: FrozenClock, user_id: int
) -> None:
    # The baseline for the forgeries below: the same helper, untouched, is accepted.
    token = _sign(access_claims(settings, clock, user_id))
    r = client.get(ME, headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["id"] == user_id


# --- no usable credentials ------------------------------------------------------


def test_missing_authorization_header_is_401(client: TestClient) -> None:
    assert_invalid_token(client.get(ME))


def test_non_bearer_scheme_is_401(client: TestClient, login: dict[str, Any]) -> None:
    assert_invalid_token(client.get(ME, headers={"Authorization": "Basic dXNlcjpwYXNz"}))
    # Even a valid token is refused under another scheme.
    assert_invalid_token(client.get(ME, headers={"Authorization": f"Token {login['access_token']}"}))


def test_garbage_token_is_401(client: TestClient) -> None:
    for garbage in ("garbage", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30.", "Bearer"):
        assert_invalid_token(client.get(ME, headers=bearer(garbage)))


# --- forged tokens --------------------------------------------------------------


def test_alg_none_token_is_401(
    client: TestClient, settings: Settings, clock: FrozenClock, user_id: int
) -> None:
    payload = _b64url_json(access_claims(settings, clock, user_id))
    for alg in ("none", "None", "NONE"):
        header = _b64url_json({"alg": alg, "kid": TEST_SIGNING_KID, "typ": "JWT"})
        assert_invalid_token(client.get(ME, headers=bearer(f"{header}.{payload}.")))


def test_hs256_signed_with_the_public_key_is_401(
    client: TestClient, settings: Settings, clock: FrozenClock, user_id: int
) -> None:
    """The classic algorithm-confusion attack: HMAC keyed with the RSA public key."""
    claims = access_claims(settings, clock, user_id)
    header = {"alg": "HS256", "kid": TEST_SIGNING_KID, "typ": "JWT"}
    # python-jose refuses a PEM as an HMAC secret, so sign by hand.
    signing_input = f"{_b64url_json(header)}.{_b64url_json(claims)}"
    for secret in (TEST_PUBLIC_PEM, TEST_PUBLIC_PEM.strip()):
        signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{_b64url(signature)}"
        assert_invalid_token(client.get(ME, headers=bearer(token)))


def test_tampered_payload_is_401(client: TestClient, login: dict[str, Any], settings: Settings) -> None:
    header, payload, signature = login["access_token"].split(".")
    claims = json.loads(_b64url_decode(payload))
    other = dev_login(client, f"victim-{uuid.uuid4().hex[:8]}@example.com")
    for change in ({"role": "ADMIN"}, {"sub": str(other["user"]["id"])}):
        forged = f"{header}.{_b64url_json({**claims, **change})}.{signature}"
        assert_invalid_token(client.get(ME, headers=bearer(forged)))
    # The untouched token still works: only the change was refused.
    assert client.get(ME, headers=bearer(login["access_token"])).status_code == 200


def test_token_signed_by_another_key_claiming_the_known_kid_is_401(
    client: TestClient, settings: Settings, clock: FrozenClock, user_id: int
) -> None:
    token = _sign(access_claims(settings, clock, user_id), pem=OTHER_PEM, kid=TEST_SIGNING_KID)
    assert_invalid_token(client.get(ME, headers=bearer(token)))


# --- header checks --------------------------------------------------------------


def test_unknown_kid_is_401(client: TestClient, settings: Settings, clock: FrozenClock, user_id: int) -> None:
    claims = access_claims(settings, clock, user_id)
    assert_invalid_token(client.get(ME, headers=bearer(_sign(claims, kid="unknown-kid"))))


def test_missing_kid_is_401(client: TestClient, settings: Settings, clock: FrozenClock, user_id: int) -> None:
    token = _sign(access_claims(settings, clock, user_id), headers={"typ": "JWT"})
    assert_invalid_token(client.get(ME, headers=bearer(token)))


def test_missing_typ_header_is_401(
    client: TestClient, settings: Settings, clock: FrozenClock, user_id: int
) -> None:
    claims = access_claims(settings, clock, user_id)
    # python-jose adds typ=JWT unless told otherwise; build the header by hand.
    header = _b64url_json({"alg": "RS256", "kid": TEST_SIGNING_KID})
    signing_input = f"{header}.{_b64url_json(claims)}"
    key = serialization.load_pem_private_key(TEST_SIGNING_PEM.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    token = f"{signing_input}.{_b64url(signature)}"
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": TEST_SIGNING_KID}
    assert_invalid_token(client.get(ME, headers=bearer(token)))


def test_wrong_typ_header_is_401(
    client: TestClient, settings: Settings, clock: FrozenClock, user_id: int
) -> None:
    claims = access_claims(settings, clock, user_id)
    token = _sign(claims, headers={"kid": TEST_SIGNING_KID, "typ": "at+jwt"})
    assert_invalid_token(client.get(ME, headers=bearer(token)))


# --- claim checks ---------------------------------------------------------------


def test_expired_token_is_401(
    client: TestClient, login: dict[str, Any], settings: Settings, clock: FrozenClock
) -> None:
    auth = bearer(login["access_token"])
    clock.advance(timedelta(seconds=settings.access_token_ttl_s - 1))
    assert client.get(ME, headers=auth).status_code == 200
    clock.advance(timedelta(seconds=1))  # exactly at exp: expired
    assert_invalid_token(client.get(ME, headers=auth))
    clock.advance(timedelta(hours=1))
    assert_invalid_token(client.get(ME, headers=auth))


def test_token_issued_with_past_exp_is_401(
    client: TestClient, settings: Settings, clock: FrozenClock, user_id: int
) -> None:
    now = int(clock.now().timestamp())
    claims = access_claims(settings, clock, user_id, iat=now - 7200, exp=now - 3600)
    assert_invalid_token(client.get(ME, headers=bearer(_sign(claims))))


def test_wrong_issuer_is_401(
    client: TestClient, settings: Settings, clock: FrozenClock, user_id: int
) -> None:
    claims = access_claims(settings, clock, user_id, iss="https://evil.example")
    assert_invalid_token(client.get(ME, headers=bearer(_sign(claims))))


def test_wrong_audience_is_401(
    client: TestClient, settings: Settings, clock: FrozenClock, user_id: int
) -> None:
    for aud in ("some-other-client", ["some-other-client"]):
        claims = access_claims(settings, clock, user_id, aud=aud)
        assert_invalid_token(client.get(ME, headers=bearer(_sign(claims))))


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "role", "jti", "iat", "exp"])
def test_missing_required_claim_is_401(
    client: TestClient, settings: Settings, clock: FrozenClock, user_id: int, claim: str
) -> None:
    claims = access_claims(settings, clock, user_id, **{claim: DROP})
    assert_invalid_token(client.get(ME, headers=bearer(_sign(claims))))


@pytest.mark.parametrize(
    ("claim", "value"),
    [("sub", ""), ("sub", "not-a-number"), ("role", "SUPERUSER"), ("jti", "")],
)
def test_malformed_claim_is_401(
    client: TestClient, settings: Settings, clock: FrozenClock, user_id: int, claim: str, value: str
) -> None:
    claims = access_claims(settings, clock, user_id, **{claim: value})
    assert_invalid_token(client.get(ME, headers=bearer(_sign(claims))))


def test_token_for_a_user_that_does_not_exist_is_401(
    client: TestClient, settings: Settings, clock: FrozenClock
) -> None:
    claims = access_claims(settings, clock, 2_000_000_000)
    assert_invalid_token(client.get(ME, headers=bearer(_sign(claims))))


# --- the database has the last word ---------------------------------------------


def test_deactivated_users_token_is_401(client: TestClient, login: dict[str, Any]) -> None:
    auth = bearer(login["access_token"])
    assert client.delete(ME, headers=auth).status_code == 200
    assert_invalid_token(client.get(ME, headers=auth))


def test_role_comes_from_the_database_not_the_token(
    client: TestClient, db: Session, settings: Settings, clock: FrozenClock, login: dict[str, Any]
) -> None:
    uid = int(login["user"]["id"])
    admin_url = f"/admin/users/{uid}"
    # A properly signed token that claims ADMIN for a USER account gets no admin rights.
    claims_admin = _sign(access_claims(settings, clock, uid, role="ADMIN"))
    for token in (login["access_token"], claims_admin):
        r = client.get(admin_url, headers=bearer(token))
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "AUTH_003"
    # Promoted in the database: the very same USER token now has admin rights.
    db.execute(text("UPDATE crypto.users SET role = 'ADMIN' WHERE id = :id"), {"id": uid})
    db.flush()
    r = client.get(admin_url, headers=bearer(login["access_token"]))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["id"] == uid
    # And demoted again: the ADMIN-claiming token loses them at once.
    db.execute(text("UPDATE crypto.users SET role = 'USER' WHERE id = :id"), {"id": uid})
    db.flush()
    r = client.get(admin_url, headers=bearer(claims_admin))
    assert r.status_code == 403 and r.json()["error"]["code"] == "AUTH_003"


# --- JWKS -----------------------------------------------------------------------


def _jwk_public_numbers(jwk: dict[str, str]) -> rsa.RSAPublicNumbers:
    n = int.from_bytes(_b64url_decode(jwk["n"]), "big")
    e = int.from_bytes(_b64url_decode(jwk["e"]), "big")
    return rsa.RSAPublicNumbers(e, n)


def _pem_public_numbers(private_pem: str) -> rsa.RSAPublicNumbers:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key().public_numbers()


def test_jwks_publishes_the_signing_key(client: TestClient) -> None:
    r = client.get("/.well-known/jwks.json")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"keys"}  # raw RFC 7517, not the envelope
    by_kid = {k["kid"]: k for k in body["keys"]}
    jwk = by_kid[TEST_SIGNING_KID]
    assert jwk["kty"] == "RSA"
    assert jwk["alg"] == "RS256"
    assert jwk["use"] == "sig"
    assert _jwk_public_numbers(jwk) == _pem_public_numbers(TEST_SIGNING_PEM)
    # n and e are unpadded base64url; no private parameters leak.
    assert "=" not in jwk["n"] and "=" not in jwk["e"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)


def test_jwks_key_verifies_an_issued_token(
    client: TestClient, login: dict[str, Any], settings: Settings
) -> None:
    jwks = client.get("/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(login["access_token"])["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(
        login["access_token"],
        jwk,
        algorithms=["RS256"],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        options={"verify_exp": False},
    )
    assert claims["sub"] == str(login["user"]["id"])


# --- key rotation ---------------------------------------------------------------


@pytest.fixture
def make_client(
    database_url: str,
    sqs_endpoint: str,
    clock: FrozenClock,
    engine: Engine,
    rollback_sessionmaker: sessionmaker[Session],
    queues_ready: None,
) -> Iterator[Callable[..., TestClient]]:
    """Builds apps with other key settings over the test's rolled-back transaction."""
    clients: list[TestClient] = []

    def build(**overrides: object) -> TestClient:
        s = make_settings(database_url, sqs_endpoint, **overrides)
        container = build_test_container(s, clock, engine)
        container.sessionmaker.override(providers.Object(rollback_sessionmaker))
        test_client = TestClient(create_app(container=container), raise_server_exceptions=False)
        test_client.__enter__()
        clients.append(test_client)
        return test_client

    yield build
    for c in reversed(clients):
        c.__exit__(None, None, None)


def _jwks_kids(client: TestClient) -> set[str]:
    return {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]}


def test_rotation_with_both_private_keys_verifies_old_and_signs_new(
    make_client: Callable[..., TestClient], settings: Settings, clock: FrozenClock
) -> None:
    c = make_client(jwt_private_keys=json.dumps({"old": OLD_PEM, "new": NEW_PEM}), jwt_signing_kid="new")
    login = dev_login(c, f"rot-{uuid.uuid4().hex[:8]}@example.com")
    uid = int(login["user"]["id"])

    # New tokens carry the new kid and work.
    assert jwt.get_unverified_header(login["access_token"])["kid"] == "new"
    assert c.get(ME, headers=bearer(login["access_token"])).status_code == 200

    # A token signed before the rotation by "old" still verifies.
    old_token = _sign(access_claims(settings, clock, uid), pem=OLD_PEM, kid="old")
    r = c.get(ME, headers=bearer(old_token))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["id"] == uid

    # Each kid is pinned to its own key: "old" signed but claiming "new" is refused.
    mislabelled = _sign(access_claims(settings, clock, uid), pem=OLD_PEM, kid="new")
    assert_invalid_token(c.get(ME, headers=bearer(mislabelled)))
    # The default test key is not part of this app's ring.
    assert_invalid_token(c.get(ME, headers=bearer(_sign(access_claims(settings, clock, uid)))))

    assert _jwks_kids(c) == {"old", "new"}
    jwks = {k["kid"]: k for k in c.get("/.well-known/jwks.json").json()["keys"]}
    assert _jwk_public_numbers(jwks["old"]) == _pem_public_numbers(OLD_PEM)
    assert _jwk_public_numbers(jwks["new"]) == _pem_public_numbers(NEW_PEM)


def test_retired_public_key_still_verifies_but_never_signs(
    make_client: Callable[..., TestClient], settings: Settings, clock: FrozenClock
) -> None:
    c = make_client(
        jwt_private_keys=json.dumps({"new": NEW_PEM}),
        jwt_public_keys=json.dumps({"old": OLD_PUBLIC_PEM}),
    )
    login = dev_login(c, f"retired-{uuid.uuid4().hex[:8]}@example.com")
    uid = int(login["user"]["id"])
    assert jwt.get_unverified_header(login["access_token"])["kid"] == "new"
    assert c.get(ME, headers=bearer(login["access_token"])).status_code == 200

    old_token = _sign(access_claims(settings, clock, uid), pem=OLD_PEM, kid="old")
    r = c.get(ME, headers=bearer(old_token))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["id"] == uid

    assert _jwks_kids(c) == {"old", "new"}

    # Old tokens stop working once they expire, like any other.
    clock.advance(timedelta(seconds=settings.access_token_ttl_s))
    assert_invalid_token(c.get(ME, headers=bearer(old_token)))


def test_default_signer_is_the_last_private_key(make_client: Callable[..., TestClient]) -> None:
    c = make_client(jwt_private_keys=json.dumps({"old": OLD_PEM, "new": NEW_PEM}))
    login = dev_login(c, f"default-{uuid.uuid4().hex[:8]}@example.com")
    assert jwt.get_unverified_header(login["access_token"])["kid"] == "new"
