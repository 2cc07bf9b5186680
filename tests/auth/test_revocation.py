"""Revocation at once (issue 15): an access token dies with its login (logout, refresh-token
reuse), with a suspension (and stays dead after the reactivation), with a demotion and with
the account's deletion; and a validly signed token whose claims are out of range (a huge
`exp`, a future `nbf` or `iat`, absurd numbers) is a 401 `AUTH_001`, never a 500.

Everything over the full HTTP path; the tokens of the claim tests are signed with the test
key ring's signing key (tests/support/app.py), exactly as the API signs them."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jose import jwt
from sqlalchemy import Connection, event, text
from sqlalchemy.orm import Session

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from tests.support.app import TEST_SIGNING_KID, TEST_SIGNING_PEM
from tests.support.http import bearer, dev_login, error_code
from tests.support.tokens import access_claims

ME = "/v1/users/me"


def assert_dead(client: TestClient, token: str) -> None:
    """The access token is refused: 401 AUTH_001 with `WWW-Authenticate: Bearer`."""
    r = client.get(ME, headers=bearer(token))
    assert r.status_code == 401, r.text
    assert error_code(r) == "AUTH_001"
    assert r.headers.get("www-authenticate") == "Bearer"


def assert_alive(client: TestClient, token: str, user_id: int | None = None) -> None:
    r = client.get(ME, headers=bearer(token))
    assert r.status_code == 200, r.text
    if user_id is not None:
        assert r.json()["data"]["id"] == user_id


def refresh(client: TestClient, refresh_token: str) -> Any:
    return client.post("/v1/auth/token/refresh", json={"refresh_token": refresh_token})


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def admin_headers(client: TestClient) -> dict[str, str]:
    login = dev_login(client, f"rev-admin-{uuid.uuid4().hex[:8]}@example.com", role="ADMIN")
    return bearer(login["access_token"])


# --- logout ------------------------------------------------------------------------


def test_logout_kills_the_access_tokens_of_that_login_and_only_those(client: TestClient) -> None:
    email = "rev.logout@example.com"
    phone = dev_login(client, email)
    laptop = dev_login(client, email)  # another device: another family
    user_id = int(phone["user"]["id"])
    rotated = refresh(client, phone["refresh_token"]).json()["data"]  # the phone's second access token
    for token in (phone["access_token"], rotated["access_token"], laptop["access_token"]):
        assert_alive(client, token, user_id)

    r = client.post(
        "/v1/auth/logout",
        json={"refresh_token": rotated["refresh_token"]},
        headers=bearer(phone["access_token"]),
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["revoked"] == 1

    # Every access token of the phone's login is dead on its next request...
    assert_dead(client, phone["access_token"])
    assert_dead(client, rotated["access_token"])
    # ...the laptop's login is untouched, and the player can sign in again on the phone.
    assert_alive(client, laptop["access_token"], user_id)
    assert refresh(client, laptop["refresh_token"]).status_code == 200
    assert_alive(client, dev_login(client, email)["access_token"], user_id)


# --- refresh-token reuse -----------------------------------------------------------


def test_refresh_token_reuse_kills_the_access_tokens_of_the_family(client: TestClient) -> None:
    email = "rev.reuse@example.com"
    victim = dev_login(client, email)
    other_device = dev_login(client, email)
    first = victim["refresh_token"]
    second = refresh(client, first).json()["data"]  # the legitimate holder rotates
    assert_alive(client, second["access_token"])

    r = refresh(client, first)  # the stolen, already rotated token comes back
    assert r.status_code == 401 and error_code(r) == "AUTH_002"

    # Thief and holder alike: every access token of that family is dead at once.
    assert_dead(client, victim["access_token"])
    assert_dead(client, second["access_token"])
    assert refresh(client, second["refresh_token"]).status_code == 401
    # Another login of the same player is not evidence of anything: it keeps working.
    assert_alive(client, other_device["access_token"])
    assert refresh(client, other_device["refresh_token"]).status_code == 200


# --- suspension and reactivation ----------------------------------------------------


def test_reactivation_does_not_revive_tokens_issued_before_the_suspension(client: TestClient) -> None:
    admin = admin_headers(client)
    email = "rev.suspended@example.com"
    login = dev_login(client, email)
    user_id = int(login["user"]["id"])
    rotated = refresh(client, login["refresh_token"]).json()["data"]
    assert_alive(client, rotated["access_token"], user_id)

    r = client.post(f"/admin/users/{user_id}/suspend", json={"reason": "chargeback"}, headers=admin)
    assert r.status_code == 200, r.text
    assert_dead(client, login["access_token"])
    assert_dead(client, rotated["access_token"])

    r = client.post(f"/admin/users/{user_id}/reactivate", json={"reason": "cleared"}, headers=admin)
    assert r.status_code == 200 and r.json()["data"]["user"]["status"] == "ACTIVE", r.text
    # The account is back, the tokens from before the suspension are not.
    assert_dead(client, login["access_token"])
    assert_dead(client, rotated["access_token"])
    assert refresh(client, rotated["refresh_token"]).status_code == 401
    # A new sign-in works, and so does its refresh.
    again = dev_login(client, email)
    assert_alive(client, again["access_token"], user_id)
    assert refresh(client, again["refresh_token"]).status_code == 200


def test_a_refresh_token_left_live_by_a_racing_refresh_dies_at_reactivation(
    client: TestClient, db: Session
) -> None:
    """A refresh that holds its token's row lock while the suspension revokes the user's
    tokens inserts a successor the suspension's UPDATE does not see (READ COMMITTED). That
    state is set up by hand here; the reactivation must not let it back in."""
    admin = admin_headers(client)
    login = dev_login(client, "rev.race@example.com")
    user_id = int(login["user"]["id"])
    client.post(f"/admin/users/{user_id}/suspend", json={"reason": "fraud"}, headers=admin)
    db.execute(text("UPDATE crypto.refresh_tokens SET revoked_at = NULL WHERE user_id = :u"), {"u": user_id})
    db.flush()
    # While suspended the leftover token is refused (the account is inactive)...
    assert refresh(client, login["refresh_token"]).status_code == 401

    r = client.post(f"/admin/users/{user_id}/reactivate", json={"reason": "appeal"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["revoked_refresh_tokens"] == 1
    # ...and after the reactivation too.
    r = refresh(client, login["refresh_token"])
    assert r.status_code == 401 and error_code(r) == "AUTH_002"


# --- role change ------------------------------------------------------------------


def test_a_demotion_kills_the_demoted_accounts_tokens_a_promotion_keeps_them(client: TestClient) -> None:
    admin = admin_headers(client)
    email = f"rev.operator-{uuid.uuid4().hex[:6]}@example.com"
    operator = dev_login(client, email, role="ADMIN")
    operator_id = int(operator["user"]["id"])
    r = client.get(f"/admin/users/{operator_id}", headers=bearer(operator["access_token"]))
    assert r.status_code == 200, r.text

    r = client.patch(
        f"/admin/users/{operator_id}/role", json={"role": "USER", "reason": "left the team"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["data"]["role"] == "USER", r.text
    # A token claiming ADMIN for an account that no longer is one does not live on.
    assert claims_of(operator["access_token"])["role"] == "ADMIN"
    assert_dead(client, operator["access_token"])
    assert refresh(client, operator["refresh_token"]).status_code == 200  # the login itself survives
    # A new sign-in is a player's.
    login = client.post("/v1/auth/dev-login", json={"email": email}).json()["data"]
    assert_alive(client, login["access_token"], operator_id)
    r = client.get(f"/admin/users/{operator_id}", headers=bearer(login["access_token"]))
    assert r.status_code == 403 and error_code(r) == "AUTH_003"

    # A promotion takes effect on the existing token (the role is read from the database).
    r = client.patch(
        f"/admin/users/{operator_id}/role", json={"role": "ADMIN", "reason": "back"}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert client.get(f"/admin/users/{operator_id}", headers=bearer(login["access_token"])).status_code == 200


def test_a_dev_login_that_demotes_the_account_ends_its_admin_sessions(client: TestClient) -> None:
    email = f"rev.dev-demote-{uuid.uuid4().hex[:6]}@example.com"
    admin = dev_login(client, email, role="ADMIN")
    promoted_again = dev_login(client, email, role="ADMIN")  # same role: nothing ends
    assert_alive(client, admin["access_token"])
    player = dev_login(client, email, role="USER")
    assert_dead(client, admin["access_token"])
    assert_dead(client, promoted_again["access_token"])
    assert_alive(client, player["access_token"])


def test_a_role_change_to_the_same_role_changes_nothing(client: TestClient) -> None:
    admin = admin_headers(client)
    player = dev_login(client, "rev.same-role@example.com")
    pid = int(player["user"]["id"])
    r = client.patch(f"/admin/users/{pid}/role", json={"role": "USER", "reason": "no-op"}, headers=admin)
    assert r.status_code == 200, r.text
    assert_alive(client, player["access_token"], pid)


# --- account deletion ---------------------------------------------------------------


def test_signing_in_again_after_deleting_the_account_does_not_revive_the_old_tokens(
    client: TestClient,
) -> None:
    email = "rev.deleted@example.com"
    login = dev_login(client, email)
    user_id = int(login["user"]["id"])
    assert client.delete(ME, headers=bearer(login["access_token"])).status_code == 200
    assert_dead(client, login["access_token"])

    again = dev_login(client, email)  # within the grace period: the account is reactivated
    assert again["reactivated"] is True
    assert_dead(client, login["access_token"])
    assert_alive(client, again["access_token"], user_id)


def test_a_refresh_token_left_live_by_a_racing_refresh_dies_when_the_player_signs_in_again(
    client: TestClient, db: Session
) -> None:
    """The deletion's twin of the suspension race above: signing in again within the grace
    period gives the player the new login only."""
    email = "rev.deleted-race@example.com"
    login = dev_login(client, email)
    user_id = int(login["user"]["id"])
    assert client.delete(ME, headers=bearer(login["access_token"])).status_code == 200
    db.execute(text("UPDATE crypto.refresh_tokens SET revoked_at = NULL WHERE user_id = :u"), {"u": user_id})
    db.flush()
    assert refresh(client, login["refresh_token"]).status_code == 401  # inactive: refused

    again = dev_login(client, email)
    assert again["reactivated"] is True
    r = refresh(client, login["refresh_token"])
    assert r.status_code == 401 and error_code(r) == "AUTH_002"
    assert refresh(client, again["refresh_token"]).status_code == 200


# --- the epoch and family claims -------------------------------------------------------


def test_issued_tokens_carry_the_epoch_and_the_login_family(client: TestClient, db: Session) -> None:
    login = dev_login(client, "rev.claims@example.com")
    claims = claims_of(login["access_token"])
    assert claims["ep"] == 0
    family = db.execute(
        text("SELECT DISTINCT family_id FROM crypto.refresh_tokens WHERE user_id = :u"),
        {"u": int(login["user"]["id"])},
    ).scalar_one()
    assert claims["fam"] == str(family)
    rotated = refresh(client, login["refresh_token"]).json()["data"]
    assert claims_of(rotated["access_token"])["fam"] == str(family)  # a refresh stays in the family


def test_both_checks_ride_on_the_one_per_request_user_lookup(
    client: TestClient, connection: Connection
) -> None:
    """No extra query per request: the epoch and the family are read by the statement that
    already loads the user's role and state."""
    login = dev_login(client, "rev.one-query@example.com")
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(connection, "before_cursor_execute", record)
    try:
        assert_alive(client, login["access_token"])
    finally:
        event.remove(connection, "before_cursor_execute", record)
    family_checks = [s for s in statements if "refresh_tokens" in s]
    assert len(family_checks) == 1, statements
    assert all(column in family_checks[0] for column in ("u.role", "u.is_active", "u.token_epoch"))


def _sign(claims: dict[str, Any]) -> str:
    headers = {"kid": TEST_SIGNING_KID, "typ": "JWT"}
    return jwt.encode(claims, TEST_SIGNING_PEM, algorithm="RS256", headers=headers)


def test_a_token_from_before_the_epoch_counts_as_epoch_0(
    client: TestClient, settings: Settings, clock: FrozenClock
) -> None:
    admin = admin_headers(client)
    login = dev_login(client, "rev.legacy@example.com")
    user_id = int(login["user"]["id"])
    legacy = _sign(access_claims(settings, clock, user_id))
    assert_alive(client, legacy, user_id)  # epoch 0 on both sides: accepted until it expires
    # An epoch the account has moved past is refused, with or without the claim.
    client.post(f"/admin/users/{user_id}/suspend", json={"reason": "x" * 3}, headers=admin)
    client.post(f"/admin/users/{user_id}/reactivate", json={"reason": "y" * 3}, headers=admin)
    assert_dead(client, legacy)
    assert_dead(client, _sign(access_claims(settings, clock, user_id, ep=0)))


def test_a_token_of_an_unknown_family_is_refused(
    client: TestClient, settings: Settings, clock: FrozenClock
) -> None:
    login = dev_login(client, "rev.family@example.com")
    user_id = int(login["user"]["id"])
    own = claims_of(login["access_token"])
    assert_alive(client, _sign(access_claims(settings, clock, user_id, ep=0, fam=own["fam"])), user_id)
    assert_dead(client, _sign(access_claims(settings, clock, user_id, ep=0, fam=str(uuid.uuid4()))))


# --- claims out of range ----------------------------------------------------------------

HUGE = 10**30


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"exp": HUGE}, id="exp-1e30"),
        pytest.param({"exp": 2**63}, id="exp-2^63"),
        pytest.param({"exp": 253_402_300_800}, id="exp-year-10000"),
        pytest.param({"exp": 1e300}, id="exp-float-1e300"),
        pytest.param({"exp": float("inf")}, id="exp-Infinity"),
        pytest.param({"exp": float("-inf")}, id="exp--Infinity"),
        pytest.param({"exp": float("nan")}, id="exp-NaN"),
        pytest.param({"exp": True}, id="exp-true"),
        pytest.param({"exp": [1]}, id="exp-list"),
        pytest.param({"exp": "9999999999"}, id="exp-string"),
        pytest.param({"iat": HUGE}, id="iat-1e30"),
        pytest.param({"iat": float("inf")}, id="iat-Infinity"),
        pytest.param({"iat": [1]}, id="iat-list"),
        pytest.param({"iat": {"a": 1}}, id="iat-object"),
        pytest.param({"iat": -HUGE}, id="iat--1e30"),
        pytest.param({"nbf": HUGE}, id="nbf-1e30"),
        pytest.param({"nbf": float("inf")}, id="nbf-Infinity"),
        pytest.param({"nbf": "soon"}, id="nbf-string"),
        pytest.param({"ep": HUGE}, id="ep-1e30"),
        pytest.param({"ep": -1}, id="ep-negative"),
        pytest.param({"ep": "0"}, id="ep-string"),
        pytest.param({"ep": False}, id="ep-false"),
        pytest.param({"fam": "not-a-uuid"}, id="fam-garbage"),
        pytest.param({"fam": 12}, id="fam-number"),
        pytest.param({"sub": str(HUGE)}, id="sub-1e30"),
        pytest.param({"sub": "99999999999999999999"}, id="sub-beyond-bigint"),
        pytest.param({"sub": "-1"}, id="sub-negative"),
        pytest.param({"sub": "0"}, id="sub-zero"),
        pytest.param({"sub": "1e3"}, id="sub-exponent"),
        pytest.param({"jti": ["a"]}, id="jti-list"),
        pytest.param({"role": ["USER"]}, id="role-list"),
    ],
)
def test_a_signed_token_with_an_absurd_claim_is_401_not_500(
    client: TestClient, settings: Settings, clock: FrozenClock, overrides: dict[str, Any]
) -> None:
    login = dev_login(client, f"rev.absurd-{uuid.uuid4().hex[:8]}@example.com")
    claims = access_claims(settings, clock, int(login["user"]["id"]), **overrides)
    assert_dead(client, _sign(claims))


def test_a_subject_that_is_not_the_canonical_decimal_id_is_refused(
    client: TestClient, settings: Settings, clock: FrozenClock
) -> None:
    login = dev_login(client, "rev.subject@example.com")
    user_id = int(login["user"]["id"])
    assert_alive(client, _sign(access_claims(settings, clock, user_id)), user_id)
    for sub in (f" {user_id}", f"+{user_id}", f"0{user_id}", f"{user_id}\n", f"{user_id}.0"):
        assert_dead(client, _sign(access_claims(settings, clock, user_id, sub=sub)))


def test_a_lifetime_longer_than_the_api_issues_is_refused(
    client: TestClient, settings: Settings, clock: FrozenClock
) -> None:
    login = dev_login(client, "rev.lifetime@example.com")
    user_id = int(login["user"]["id"])
    now = int(clock.now().timestamp())
    ttl = settings.access_token_ttl_s
    assert_alive(client, _sign(access_claims(settings, clock, user_id, exp=now + ttl)), user_id)
    for exp in (now + ttl + 3600, now + 365 * 86_400):
        assert_dead(client, _sign(access_claims(settings, clock, user_id, exp=exp)))


def test_a_future_nbf_is_refused(client: TestClient, settings: Settings, clock: FrozenClock) -> None:
    login = dev_login(client, "rev.nbf@example.com")
    user_id = int(login["user"]["id"])
    now = int(clock.now().timestamp())
    assert_alive(client, _sign(access_claims(settings, clock, user_id, nbf=now)), user_id)
    future = _sign(access_claims(settings, clock, user_id, nbf=now + 600))
    assert_dead(client, future)
    # Not before means not before: the same token is accepted once its time has come.
    clock.advance(timedelta(seconds=600))
    assert_alive(client, future, user_id)


def test_an_iat_in_the_future_beyond_the_leeway_is_refused(
    client: TestClient, settings: Settings, clock: FrozenClock
) -> None:
    login = dev_login(client, "rev.iat@example.com")
    user_id = int(login["user"]["id"])
    now = int(clock.now().timestamp())
    ttl = settings.access_token_ttl_s
    # Another instance's clock a few seconds ahead: within the leeway.
    ahead = access_claims(settings, clock, user_id, iat=now + 5, exp=now + 5 + ttl)
    assert_alive(client, _sign(ahead), user_id)
    future = access_claims(settings, clock, user_id, iat=now + 600, exp=now + 600 + ttl)
    assert_dead(client, _sign(future))


def _b64url_json(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("[1, 2]", id="header-list"),
        pytest.param('"RS256"', id="header-string"),
        pytest.param("[" * 5000 + "]" * 5000, id="header-deeply-nested"),
        pytest.param('{"alg": "RS256", "typ": "JWT", "kid": ["test-key-1"]}', id="kid-list"),
    ],
)
def test_a_malformed_header_is_401_not_500(client: TestClient, header: str) -> None:
    encoded = base64.urlsafe_b64encode(header.encode()).rstrip(b"=").decode()
    assert_dead(client, f"{encoded}.{_b64url_json({'sub': '1'})}.c2ln")
