"""The FCM HTTP v1 client against the local fake FCM, without a database: the Google
service-account flow (a verified RS256 assertion, the access token cached until shortly
before it expires, dropped when refused), how each answer maps to an outcome, and the
settings that choose and guard the push provider."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest

from myapi.auth.keys import generate_private_pem
from myapi.core.clock import FrozenClock
from myapi.core.config import ConfigurationError, Settings
from myapi.providers.push import FcmSender, LogSender, PushResult, build_push_sender
from myapi.push.service import QuietHours
from tests.support.days import DEFAULT_NOW
from tests.support.fake_fcm import (
    ACCESS_TOKEN_TTL_S,
    Answer,
    FakeFcm,
    bad_token,
    rate_limited,
    unavailable,
    unregistered,
)
from tests.support.production import PRODUCTION_OK

TOKEN = "device-token:APA91bTestTokenForTheClientTests"
DATA = {"notification_id": "7", "category": "REWARD"}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def _settings(fcm: FakeFcm, **values: object) -> Settings:
    base: dict[str, object] = {
        "environment": "test",
        "push_provider": "fcm",
        "fcm_service_account_json": fcm.service_account_json(),
        "fcm_base_url": fcm.base_url,
        "fcm_timeout_s": 2.0,
        "fcm_backoff_base_s": 0.25,
        "fcm_backoff_max_s": 2.0,
    }
    return Settings(_env_file=None, **{**base, **values})  # type: ignore[call-arg]


def _sender(
    fcm: FakeFcm, http: httpx.Client, clock: FrozenClock, sleeps: list[float], **values: object
) -> FcmSender:
    sender = build_push_sender(_settings(fcm, **values), http, clock)
    assert isinstance(sender, FcmSender)
    sender.sleep = sleeps.append
    return sender


def test_the_access_token_is_fetched_once_for_many_sends_and_renewed_before_it_expires(
    fcm: FakeFcm, http: httpx.Client
) -> None:
    clock, sleeps = FrozenClock(DEFAULT_NOW), []
    sender = _sender(fcm, http, clock, sleeps)
    for i in range(25):
        assert sender.send(TOKEN, f"title {i}", "body", DATA).result is PushResult.SENT
    assert fcm.tokens_issued == 1 and len(fcm.sent) == 25
    [claims] = fcm.token_requests  # the assertion the fake verified with the public key
    assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
    assert claims["iat"] == int(DEFAULT_NOW.timestamp()) and claims["exp"] - claims["iat"] == 3600
    assert {s.authorization for s in fcm.sent} == {"Bearer ya29.fake-1"}

    # Still cached until 5 minutes before it expires; then a new one.
    clock.advance(timedelta(seconds=ACCESS_TOKEN_TTL_S - 301))
    sender.send(TOKEN, "t", "b", DATA)
    assert fcm.tokens_issued == 1
    clock.advance(timedelta(seconds=1))
    sender.send(TOKEN, "t", "b", DATA)
    assert fcm.tokens_issued == 2
    assert fcm.sent[-1].authorization == "Bearer ya29.fake-2"

    # A token the API refuses (401) is dropped and fetched again within the same send.
    fcm.issued.discard("ya29.fake-2")
    assert sender.send(TOKEN, "t", "b", DATA).result is PushResult.SENT
    assert fcm.tokens_issued == 3 and fcm.sent[-1].authorization == "Bearer ya29.fake-3"
    assert sleeps == [0.25]


def test_an_assertion_signed_with_another_key_gets_no_token_and_nothing_is_sent(
    fcm: FakeFcm, http: httpx.Client
) -> None:
    clock, sleeps = FrozenClock(DEFAULT_NOW), []
    sender = _sender(
        fcm, http, clock, sleeps, fcm_service_account_json=fcm.service_account_json(generate_private_pem())
    )
    outcome = sender.send(TOKEN, "t", "b", DATA)
    assert outcome.result is PushResult.RETRY
    assert "HTTP 400 invalid_grant" in outcome.detail
    assert fcm.tokens_issued == 0 and fcm.send_requests == []
    assert [r["error"] for r in fcm.token_requests] == ["invalid JWT signature or claims: JWTError"] * 3


def test_each_fcm_answer_maps_to_its_outcome(fcm: FakeFcm, http: httpx.Client) -> None:
    clock, sleeps = FrozenClock(DEFAULT_NOW), []
    sender = _sender(fcm, http, clock, sleeps)

    fcm.script(TOKEN, unregistered())
    assert sender.send(TOKEN, "t", "b", DATA).result is PushResult.INVALID_TOKEN
    fcm.script(TOKEN, bad_token())
    assert sender.send(TOKEN, "t", "b", DATA).result is PushResult.INVALID_TOKEN
    fcm_error = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
    mismatch = {"error": {"code": 403, "status": "PERMISSION_DENIED", "details": [
        {"@type": fcm_error, "errorCode": "SENDER_ID_MISMATCH"}]}}  # fmt: skip
    fcm.script(TOKEN, Answer(403, mismatch))
    assert sender.send(TOKEN, "t", "b", DATA).result is PushResult.INVALID_TOKEN
    payload = {
        "error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "Invalid value at message.data"}
    }
    fcm.script(TOKEN, Answer(400, payload))
    rejected = sender.send(TOKEN, "t", "b", DATA)
    assert rejected.result is PushResult.REJECTED and "message.data" in rejected.detail
    assert fcm.attempts_to(TOKEN) == 4 and sleeps == []  # none of those is retried

    # 5xx on every try: FCM_MAX_ATTEMPTS tries with back-off, then RETRY for a later pass.
    fcm.script(TOKEN, unavailable(), unavailable(), unavailable())
    outcome = sender.send(TOKEN, "t", "b", DATA)
    assert outcome.result is PushResult.RETRY and outcome.retry_after_s is None
    assert sleeps == [0.25, 0.5] and fcm.attempts_to(TOKEN) == 7

    # Retry-After as an HTTP date, counted on the injected clock: 1 s -> slept; 60 s -> later pass.
    sleeps.clear()
    soon = Answer(
        429,
        rate_limited(0).body,
        {"Retry-After": format_datetime(clock.now() + timedelta(seconds=1), usegmt=True)},
    )
    fcm.script(TOKEN, soon)
    assert sender.send(TOKEN, "t", "b", DATA).result is PushResult.SENT
    assert sleeps == [1.0]
    fcm.script(TOKEN, rate_limited(60))
    later = sender.send(TOKEN, "t", "b", DATA)
    assert (later.result, later.retry_after_s) == (PushResult.RETRY, 60.0)
    assert sleeps == [1.0]
    # The data the fake accepted are strings; the body is FCM's v1 message.
    assert fcm.send_requests[-2]["message"] == {
        "token": TOKEN, "notification": {"title": "t", "body": "b"}, "data": DATA,
    }  # fmt: skip


def test_timeouts_and_an_unreachable_fcm_are_retried_then_left_for_a_later_pass(
    fcm: FakeFcm, http: httpx.Client
) -> None:
    clock, sleeps = FrozenClock(DEFAULT_NOW), []
    sender = _sender(fcm, http, clock, sleeps, fcm_timeout_s=0.3)
    fcm.send_delay_s = 0.5  # every answer comes after the client's read timeout
    outcome = sender.send(TOKEN, "t", "b", DATA)
    assert (outcome.result, outcome.detail) == (PushResult.RETRY, "timeout")
    assert fcm.attempts_to(TOKEN) == 3 and sleeps == [0.25, 0.5]

    # Nothing listens on port 9 of the loopback: every try fails to connect.
    sleeps.clear()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="test",
        push_provider="fcm",
        fcm_service_account_json=json.dumps(
            {
                "type": "service_account",
                "project_id": "p",
                "private_key_id": "k",
                "private_key": generate_private_pem(),
                "client_email": "e@example.com",
                "token_uri": "http://127.0.0.1:9/token",
            }
        ),  # fmt: skip
        fcm_base_url="http://127.0.0.1:9",
        fcm_timeout_s=0.5,
        fcm_backoff_base_s=0.25,
    )
    unreachable = build_push_sender(settings, http, clock)
    assert isinstance(unreachable, FcmSender)
    unreachable.sleep = sleeps.append
    outcome = unreachable.send(TOKEN, "t", "b", DATA)
    assert outcome.result is PushResult.RETRY and "token endpoint unreachable" in outcome.detail
    assert sleeps == [0.25, 0.5]


def test_the_provider_setting_chooses_the_sender_and_production_refuses_the_log_one(
    http: httpx.Client,
) -> None:
    clock = FrozenClock(DEFAULT_NOW)
    dev = Settings(_env_file=None, environment="development")  # type: ignore[call-arg]
    assert dev.push_provider == "log" and isinstance(build_push_sender(dev, http, clock), LogSender)
    assert build_push_sender(dev.model_copy(update={"push_provider": "none"}), http, clock) is None
    with pytest.raises(ConfigurationError, match="FCM_SERVICE_ACCOUNT_JSON lacks"):
        build_push_sender(
            dev.model_copy(update={"push_provider": "fcm", "fcm_service_account_json": "{}"}), http, clock
        )

    with pytest.raises(ConfigurationError, match="PUSH_PROVIDER=log"):
        Settings(_env_file=None, **{**PRODUCTION_OK, "push_provider": "log"})  # type: ignore[call-arg]
    account = {
        "type": "service_account", "project_id": "p", "private_key_id": "k", "private_key": "-",
        "client_email": "e@example.com", "token_uri": "https://oauth2.googleapis.com/token",
    }  # fmt: skip
    fcm_ok = {**PRODUCTION_OK, "push_provider": "fcm", "fcm_service_account_json": json.dumps(account)}
    assert Settings(_env_file=None, **fcm_ok).production_problems() == []  # type: ignore[call-arg]
    for bad, variable in (
        ({"fcm_service_account_json": ""}, "FCM_SERVICE_ACCOUNT_JSON"),
        (
            {"fcm_service_account_json": json.dumps({**account, "token_uri": "http://x/token"})},
            "FCM_SERVICE_ACCOUNT_JSON",
        ),
        ({"fcm_base_url": "http://fcm.internal"}, "FCM_BASE_URL"),
    ):
        with pytest.raises(ConfigurationError, match=variable):
            Settings(_env_file=None, **{**fcm_ok, **bad})  # type: ignore[call-arg]
    # Quiet hours: both ends or neither, and not empty.
    for start, end in (("22:00", ""), ("08:00", "08:00"), ("25:00", "08:00")):
        with pytest.raises(ValueError):
            Settings(_env_file=None, push_quiet_start=start, push_quiet_end=end)  # type: ignore[call-arg]
    assert Settings(_env_file=None, push_quiet_start="", push_quiet_end="").push_quiet_start == ""  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("window", "kst", "quiet", "ends"),
    [
        (("22:00", "08:00"), "2026-11-23T21:59", False, None),
        (("22:00", "08:00"), "2026-11-23T22:00", True, "2026-11-24T08:00"),
        (("22:00", "08:00"), "2026-11-24T00:30", True, "2026-11-24T08:00"),
        (("22:00", "08:00"), "2026-11-24T07:59", True, "2026-11-24T08:00"),
        (("22:00", "08:00"), "2026-11-24T08:00", False, None),
        (("13:00", "14:30"), "2026-11-24T13:00", True, "2026-11-24T14:30"),
        (("13:00", "14:30"), "2026-11-24T14:30", False, None),
        (("13:00", "14:30"), "2026-11-24T03:00", False, None),
    ],
)
def test_quiet_hours_windows_in_kst(window: tuple[str, str], kst: str, quiet: bool, ends: str | None) -> None:
    from datetime import datetime

    from myapi.core.clock import KST

    hours = QuietHours.parse(*window)
    assert hours is not None
    at = datetime.fromisoformat(kst).replace(tzinfo=KST)
    assert hours.contains(at) is quiet
    if ends is not None:
        assert hours.end_after(at) == datetime.fromisoformat(ends).replace(tzinfo=KST)
