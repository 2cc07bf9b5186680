"""The OAuth authorization-code flow with PKCE, end to end: our API -> the real httpx
client -> a local server playing Google and Kakao."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from dependency_injector import providers
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.db import make_engine
from myapi.main import create_app
from tests.support import fake_oauth
from tests.support.app import build_test_container, make_settings
from tests.support.db import count, truncate_all
from tests.support.fake_oauth import FakeOAuthServer, google_user, kakao_user, pkce_s256
from tests.support.http_server import running
from tests.support.live_server import LiveServer

APP_REDIRECT = "https://app.example/auth/callback"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOAuthServer]:
    with running(FakeOAuthServer()) as server:
        yield server


@pytest.fixture(scope="module")
def oauth_settings(settings: Settings, fake: FakeOAuthServer) -> Settings:
    return make_settings(
        settings.database_url,
        settings.sqs_endpoint_url or "",
        oauth_redirect_allowlist=[
            APP_REDIRECT,
            "http://testserver/v1/auth/oauth/google/callback",
            "http://testserver/v1/auth/oauth/kakao/callback",
        ],
        oauth_http_timeout_s=1.0,
        **fake.endpoints("google"),
        **fake.endpoints("kakao"),
    )


@pytest.fixture
def app(
    oauth_settings: Settings,
    clock: FrozenClock,
    engine: Engine,
    rollback_sessionmaker: sessionmaker[Session],
    queues_ready: None,
) -> FastAPI:
    container = build_test_container(oauth_settings, clock, engine)
    container.sessionmaker.override(providers.Object(rollback_sessionmaker))
    return create_app(container=container)


def start(client: TestClient | httpx.Client, provider: str, redirect: str = APP_REDIRECT) -> dict[str, str]:
    r = client.get(
        f"/v1/auth/oauth/{provider}/authorize",
        params={"redirect_uri": redirect},
        follow_redirects=False,
    )
    assert r.status_code == 302, r.text
    query = {k: v[0] for k, v in parse_qs(urlparse(r.headers["location"]).query).items()}
    return query


def login(
    client: TestClient | httpx.Client,
    fake: FakeOAuthServer,
    provider: str,
    userinfo: dict[str, Any],
    redirect: str = APP_REDIRECT,
) -> httpx.Response:
    query = start(client, provider, redirect)
    code = fake.issue_code(provider, query["code_challenge"], redirect, userinfo)
    return client.post(
        "/v1/auth/oauth/callback",
        json={"provider": provider, "code": code, "state": query["state"], "redirect_uri": redirect},
    )


def test_authorize_redirects_to_the_provider_with_state_and_pkce(client: TestClient, db: Session) -> None:
    query = start(client, "google")
    assert query["response_type"] == "code"
    assert query["client_id"] == "google-client"
    assert query["redirect_uri"] == APP_REDIRECT
    assert query["code_challenge_method"] == "S256"
    assert query["scope"] == "openid email profile"
    row = db.execute(
        text("SELECT provider, redirect_uri, code_verifier, expires_at - created_at AS ttl "
             "FROM crypto.oauth_states WHERE state = :s"),
        {"s": query["state"]},
    ).one()  # fmt: skip
    assert row.provider == "GOOGLE" and row.redirect_uri == APP_REDIRECT
    assert pkce_s256(row.code_verifier) == query["code_challenge"]
    assert row.ttl == timedelta(minutes=10)


def test_google_first_login_creates_user_with_signup_bonus(
    client: TestClient, fake: FakeOAuthServer, db: Session
) -> None:
    r = login(client, fake, "google", google_user("g-1", "Alice@Example.COM", "Alice"))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["is_new_user"] is True
    assert data["token_type"] == "Bearer" and data["expires_in"] == 3600
    assert data["user"]["email"] == "alice@example.com"
    assert data["user"]["nickname"] == "Alice"
    assert data["user"]["points_balance"] == 1000
    assert data["user"]["created_at"].endswith("+09:00")
    me = client.get("/v1/users/me", headers={"Authorization": f"Bearer {data['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["data"]["id"] == data["user"]["id"]
    # The PKCE verifier reached the provider and matched the challenge.
    token_calls = [form for path, form in fake.requests if path == "/google/token"]
    assert token_calls and all(len(f["code_verifier"]) >= 43 for f in token_calls)


def test_kakao_first_login_uses_profile_nickname(client: TestClient, fake: FakeOAuthServer) -> None:
    r = login(client, fake, "kakao", kakao_user(4242, "Bob@Kakao.com", "밥 돌이"))
    assert r.status_code == 200, r.text
    user = r.json()["data"]["user"]
    assert user["auth_provider"] == "KAKAO"
    assert user["nickname"] == "밥_돌이"
    assert user["email"] == "bob@kakao.com"


def test_returning_user_is_not_credited_again(client: TestClient, fake: FakeOAuthServer, db: Session) -> None:
    first = login(client, fake, "google", google_user("g-2", "carol@example.com", "Carol"))
    second = login(client, fake, "google", google_user("g-2", "carol@example.com", "Carol"))
    assert second.status_code == 200
    assert second.json()["data"]["is_new_user"] is False
    user_id = first.json()["data"]["user"]["id"]
    assert second.json()["data"]["user"]["id"] == user_id
    assert second.json()["data"]["user"]["points_balance"] == 1000
    assert count(db, "SELECT count(*) FROM crypto.points_ledger WHERE user_id = :u", u=user_id) == 1


def test_nickname_collisions_get_numbered(client: TestClient, fake: FakeOAuthServer) -> None:
    names = [
        login(client, fake, "google", google_user(f"g-kim-{i}", f"kim{i}@example.com", "Kim")).json()["data"][
            "user"
        ]["nickname"]
        for i in range(3)
    ]
    assert names == ["Kim", "Kim_2", "Kim_3"]


def test_same_email_on_another_provider_is_not_linked(client: TestClient, fake: FakeOAuthServer) -> None:
    g = login(client, fake, "google", google_user("g-3", "dana@example.com", "Dana"))
    k = login(client, fake, "kakao", kakao_user(77, "dana@example.com", "Dana"))
    assert k.status_code == 200
    assert k.json()["data"]["user"]["id"] != g.json()["data"]["user"]["id"]
    assert k.json()["data"]["user"]["email"] is None


def test_the_signup_bonus_is_paid_once_per_verified_email_across_providers(
    client: TestClient, fake: FakeOAuthServer
) -> None:
    g = login(client, fake, "google", google_user("g-33", "bonus@example.com", "Bo")).json()["data"]
    assert g["signup_bonus"] == {"points": 1000, "refused_because": None}
    assert g["user"]["points_balance"] == 1000
    k = login(client, fake, "kakao", kakao_user(333, "bonus@example.com", "Bo")).json()["data"]
    assert k["is_new_user"] is True
    assert k["signup_bonus"] == {"points": 0, "refused_because": "EMAIL_ALREADY_REGISTERED"}
    assert k["user"]["points_balance"] == 0
    # Logging in again is not a first login: no bonus line at all.
    again = login(client, fake, "kakao", kakao_user(333, "bonus@example.com", "Bo")).json()["data"]
    assert again["is_new_user"] is False and again["signup_bonus"] is None
    # Another email on the other provider is a new person: the bonus is paid.
    other = login(client, fake, "kakao", kakao_user(334, "other@example.com", "Oz")).json()["data"]
    assert other["signup_bonus"]["points"] == 1000


def test_reused_state_is_rejected(client: TestClient, fake: FakeOAuthServer) -> None:
    query = start(client, "google")
    info = google_user("g-4", "erin@example.com", "Erin")
    body = {"provider": "google", "state": query["state"], "redirect_uri": APP_REDIRECT}
    code = fake.issue_code("google", query["code_challenge"], APP_REDIRECT, info)
    assert client.post("/v1/auth/oauth/callback", json={**body, "code": code}).status_code == 200
    code2 = fake.issue_code("google", query["code_challenge"], APP_REDIRECT, info)
    r = client.post("/v1/auth/oauth/callback", json={**body, "code": code2})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "OAUTH_002"


def test_expired_state_is_rejected(
    client: TestClient, fake: FakeOAuthServer, clock: FrozenClock, db: Session
) -> None:
    query = start(client, "google")
    clock.advance(timedelta(minutes=10, seconds=1))
    code = fake.issue_code(
        "google", query["code_challenge"], APP_REDIRECT, google_user("g-5", "f@x.io", "Fay")
    )
    r = client.post(
        "/v1/auth/oauth/callback",
        json={"provider": "google", "code": code, "state": query["state"], "redirect_uri": APP_REDIRECT},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "OAUTH_002"
    assert count(db, "SELECT count(*) FROM crypto.users WHERE provider_id = 'g-5'") == 0


def test_state_from_another_provider_is_rejected(client: TestClient, fake: FakeOAuthServer) -> None:
    query = start(client, "google")
    code = fake.issue_code("kakao", query["code_challenge"], APP_REDIRECT, kakao_user(5, None, "Gil"))
    r = client.post(
        "/v1/auth/oauth/callback",
        json={"provider": "kakao", "code": code, "state": query["state"], "redirect_uri": APP_REDIRECT},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "OAUTH_002"


def test_redirect_uri_one_character_off_is_rejected(client: TestClient, fake: FakeOAuthServer) -> None:
    query = start(client, "google")
    code = fake.issue_code(
        "google", query["code_challenge"], APP_REDIRECT, google_user("g-6", "h@x.io", "Hal")
    )
    r = client.post(
        "/v1/auth/oauth/callback",
        json={"provider": "google", "code": code, "state": query["state"],
              "redirect_uri": APP_REDIRECT + "/"},
    )  # fmt: skip
    assert r.status_code == 400 and r.json()["error"]["code"] == "OAUTH_002"


def test_authorize_refuses_a_redirect_uri_not_on_the_allow_list(client: TestClient, db: Session) -> None:
    before = count(db, "SELECT count(*) FROM crypto.oauth_states")
    for bad in ("https://evil.example/cb", APP_REDIRECT.upper(), APP_REDIRECT + "?x=1"):
        r = client.get(
            "/v1/auth/oauth/google/authorize", params={"redirect_uri": bad}, follow_redirects=False
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "OAUTH_004"
    assert count(db, "SELECT count(*) FROM crypto.oauth_states") == before


def test_unknown_provider_is_a_validation_error(client: TestClient) -> None:
    r = client.get(
        "/v1/auth/oauth/github/authorize", params={"redirect_uri": APP_REDIRECT}, follow_redirects=False
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "SYS_422"


@pytest.mark.parametrize(
    ("code", "status", "error_code"),
    [
        (fake_oauth.BAD_CODE, 400, "OAUTH_001"),
        (fake_oauth.BOOM_CODE, 502, "OAUTH_003"),
        (fake_oauth.SLOW_CODE, 502, "OAUTH_003"),
        (fake_oauth.BROKEN_USERINFO_CODE, 502, "OAUTH_003"),
        ("never-issued", 400, "OAUTH_001"),
    ],
)
def test_provider_errors_and_timeouts_create_nothing(
    client: TestClient, db: Session, code: str, status: int, error_code: str
) -> None:
    users_before = count(db, "SELECT count(*) FROM crypto.users")
    query = start(client, "google")
    r = client.post(
        "/v1/auth/oauth/callback",
        json={"provider": "google", "code": code, "state": query["state"], "redirect_uri": APP_REDIRECT},
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == error_code
    assert count(db, "SELECT count(*) FROM crypto.users") == users_before
    assert count(db, "SELECT count(*) FROM crypto.refresh_tokens") == 0
    # Nothing half-written: the state was not even consumed.
    assert count(
        db, "SELECT count(*) FROM crypto.oauth_states WHERE state = :s AND used_at IS NULL",
        s=query["state"],
    ) == 1  # fmt: skip


def test_browser_callback_uses_the_stored_redirect_uri(client: TestClient, fake: FakeOAuthServer) -> None:
    redirect = "http://testserver/v1/auth/oauth/kakao/callback"
    query = start(client, "kakao", redirect)
    code = fake.issue_code("kakao", query["code_challenge"], redirect, kakao_user(99, "ivy@k.kr", "Ivy"))
    r = client.get("/v1/auth/oauth/kakao/callback", params={"code": code, "state": query["state"]})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["user"]["nickname"] == "Ivy"


def test_browser_callback_with_provider_error_is_rejected(client: TestClient) -> None:
    query = start(client, "google", "http://testserver/v1/auth/oauth/google/callback")
    r = client.get(
        "/v1/auth/oauth/google/callback", params={"error": "access_denied", "state": query["state"]}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "OAUTH_001"


# --- concurrency: real server, real commits ------------------------------------------


@pytest.fixture
def live(
    oauth_settings: Settings, clock: FrozenClock, queues_ready: None
) -> Iterator[tuple[httpx.Client, Engine]]:
    engine = make_engine(oauth_settings)
    app = create_app(container=build_test_container(oauth_settings, clock, engine))
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        yield http, engine
    truncate_all(engine)
    engine.dispose()


def test_concurrent_retries_of_one_callback_credit_the_bonus_once(
    live: tuple[httpx.Client, Engine], fake: FakeOAuthServer
) -> None:
    http, engine = live
    query = start(http, "google")
    code = fake.issue_code(
        "google", query["code_challenge"], APP_REDIRECT, google_user("g-race", "r@x.io", "Racer")
    )
    body = {"provider": "google", "code": code, "state": query["state"], "redirect_uri": APP_REDIRECT}
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda _: http.post("/v1/auth/oauth/callback", json=body), range(10)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * 9
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 400} == {"OAUTH_002"}
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM crypto.users WHERE provider_id='g-race'")).scalar_one()
            == 1
        )
        assert (
            conn.execute(
                text("SELECT count(*) FROM crypto.points_ledger WHERE ref_type='SIGNUP'")
            ).scalar_one()
            == 1
        )
        assert conn.execute(text("SELECT balance FROM crypto.point_balances")).scalar_one() == 1000


def test_concurrent_first_logins_of_one_identity_create_one_user(
    live: tuple[httpx.Client, Engine], fake: FakeOAuthServer
) -> None:
    http, engine = live
    info = google_user("g-tabs", "tabs@x.io", "Tabs")
    bodies = []
    for _ in range(6):  # six browser tabs, each with its own state and code
        query = start(http, "google")
        code = fake.issue_code("google", query["code_challenge"], APP_REDIRECT, info)
        bodies.append(
            {"provider": "google", "code": code, "state": query["state"], "redirect_uri": APP_REDIRECT}
        )
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda b: http.post("/v1/auth/oauth/callback", json=b), bodies))
    assert [r.status_code for r in responses] == [200] * 6
    assert sum(r.json()["data"]["is_new_user"] for r in responses) == 1
    assert len({r.json()["data"]["user"]["id"] for r in responses}) == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM crypto.users")).scalar_one() == 1
        assert conn.execute(text("SELECT sum(delta_points) FROM crypto.points_ledger")).scalar_one() == 1000
