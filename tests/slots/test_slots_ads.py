"""Slots, ads and cooldown (docs/api.md "Slots, ads and cooldown"; myapi/slots/policy.py).

Real HTTP through the app and real PostgreSQL: base slots, the 5-minute cooldown that gives
slots back (and survives a restart, since nothing is kept in memory), verified ad receipts
with every rejection (forged, another player's, stale, from the future, replayed, over the
daily ad limit), a day of base + every ad, and per-player isolation. The regressions of
"A fair day" and the closed-session refusal (AD_005) are in test_fair_day.py; random
sequences against a reference model in test_slots_properties.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from dependency_injector import providers
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.main import create_app
from tests.support.app import build_test_container
from tests.support.factories import DEFAULT_SYMBOLS, open_day
from tests.support.http import bearer, dev_login
from tests.support.slots import (
    ad_rows,
    history,
    kst,
    now_s,
    receipt,
    slot_status,
    submit,
    submit_ok,
    unlock,
    use_base_slots,
)

MINUTE = timedelta(minutes=1)
FRESH_STATUS = {
    "trading_day": "2026-11-23",
    "base": 3,
    "used": 0,
    "ad_unlocks_used": 0,
    "ad_unlocks_max": 7,
    "cooldown_unlocks": 0,
    "capacity": 3,
    "available": 3,
    "cooldown_until": None,
    "can_unlock": True,
}


@pytest.fixture
def day_open(db: Session, clock: FrozenClock, settings: Settings) -> None:
    open_day(db, clock, settings)


# --- status and base slots ---------------------------------------------------------------


@pytest.mark.usefixtures("day_open")
def test_a_fresh_player_has_three_slots_and_can_watch_an_ad(client: TestClient) -> None:
    player = dev_login(client, "fresh.slots@example.com")
    assert slot_status(client, player["access_token"]) == FRESH_STATUS


def test_slot_status_needs_a_player_token(client: TestClient) -> None:
    r = client.get("/v1/ads/status")
    assert r.status_code == 401 and r.json()["success"] is False


@pytest.mark.usefixtures("day_open")
def test_using_the_three_base_slots_starts_a_five_minute_cooldown_and_a_fourth_submit_is_PRED_003(
    client: TestClient, clock: FrozenClock
) -> None:
    token = dev_login(client, "three.used@example.com")["access_token"]
    remaining = [submit_ok(client, token, s)["remaining_slots"] for s in DEFAULT_SYMBOLS[:3]]
    assert remaining == [2, 1, 0]
    until = clock.now() + 5 * MINUTE
    status = slot_status(client, token)
    assert status["cooldown_until"] == kst(until) == "2026-11-23T10:05:00+09:00"
    assert {k: status[k] for k in ("used", "available", "capacity", "cooldown_unlocks", "can_unlock")} == {
        "used": 3,
        "available": 0,
        "capacity": 3,
        "cooldown_unlocks": 0,
        "can_unlock": True,
    }
    code, body = submit(client, token, DEFAULT_SYMBOLS[3])
    assert code == 409 and body["success"] is False
    assert body["error"]["code"] == "PRED_003"
    assert datetime.fromisoformat(body["error"]["details"]["cooldown_until"]) == until
    # The refused submit took nothing and left no prediction behind.
    assert slot_status(client, token)["used"] == 3
    mine = client.get("/v1/predictions/me", headers=bearer(token)).json()["data"]["predictions"]
    assert [p["symbol"] for p in mine] == list(DEFAULT_SYMBOLS[:3])


@pytest.mark.usefixtures("day_open")
def test_PRED_003_reports_cooldown_until_in_kst_like_the_status(client: TestClient) -> None:
    token = dev_login(client, "kst.details@example.com")["access_token"]
    use_base_slots(client, token)
    code, body = submit(client, token, DEFAULT_SYMBOLS[3])
    assert code == 409 and body["error"]["code"] == "PRED_003"
    assert body["error"]["details"]["cooldown_until"] == slot_status(client, token)["cooldown_until"]


# --- cooldown recovery -------------------------------------------------------------------


@pytest.mark.usefixtures("day_open")
def test_cooldown_gives_one_slot_back_every_five_minutes_until_three_are_available(
    client: TestClient, clock: FrozenClock
) -> None:
    email = "cooldown.timeline@example.com"
    token = dev_login(client, email)["access_token"]
    start = clock.now()
    use_base_slots(client, token)

    def at(offset: timedelta) -> dict[str, Any]:
        clock.set(start + offset)
        return slot_status(client, token)

    s = at(4 * MINUTE + timedelta(seconds=59))
    assert (s["available"], s["cooldown_unlocks"], s["cooldown_until"]) == (0, 0, kst(start + 5 * MINUTE))
    s = at(5 * MINUTE)
    assert (s["available"], s["cooldown_unlocks"], s["capacity"]) == (1, 1, 4)
    assert s["cooldown_until"] == kst(start + 10 * MINUTE) == "2026-11-23T10:10:00+09:00"
    s = at(9 * MINUTE + timedelta(seconds=59))
    assert s["available"] == 1
    s = at(10 * MINUTE)
    assert (s["available"], s["cooldown_unlocks"], s["cooldown_until"]) == (2, 2, kst(start + 15 * MINUTE))
    s = at(15 * MINUTE)
    # Three available again: the timer stops.
    assert (s["available"], s["cooldown_unlocks"], s["capacity"], s["cooldown_until"]) == (3, 3, 6, None)
    token = dev_login(client, email)["access_token"]  # the first access token lives one hour
    s = at(60 * MINUTE)
    assert (s["available"], s["cooldown_unlocks"], s["capacity"], s["used"]) == (3, 3, 6, 3)
    assert s["cooldown_until"] is None and s["can_unlock"] is True
    # Reads count the recoveries but write nothing.
    page = history(client, token)
    assert page["data"] == [] and page["meta"]["total"] == 0


@pytest.mark.usefixtures("day_open")
def test_a_submit_materialises_recovered_slots_as_cooldown_history_and_a_cancel_refunds_a_slot(
    client: TestClient, clock: FrozenClock, db: Session
) -> None:
    email = "cooldown.history@example.com"
    player = dev_login(client, email)
    token, user_id = player["access_token"], player["user"]["id"]
    start = clock.now()
    use_base_slots(client, token)

    # At +5:00 the recovered slot is taken at once: the recovery is written (COOLDOWN, 1 slot)
    # and the timer runs on from that recovery, not from the submit.
    clock.set(start + 5 * MINUTE)
    assert submit_ok(client, token, DEFAULT_SYMBOLS[3])["remaining_slots"] == 0
    assert ad_rows(db, user_id) == [("COOLDOWN", 1, None)]
    page = history(client, token)
    assert page["meta"]["total"] == 1
    assert [(h["method"], h["unlocked_slots"], h["trading_day"], h["created_at"]) for h in page["data"]] == [
        ("COOLDOWN", 1, "2026-11-23", kst(start + 5 * MINUTE))
    ]
    s = slot_status(client, token)
    assert (s["used"], s["available"], s["cooldown_until"]) == (4, 0, kst(start + 10 * MINUTE))

    # By +30:00 three more are due (no more: three available is the target).
    clock.set(start + 30 * MINUTE)
    s = slot_status(client, token)
    assert (s["available"], s["cooldown_unlocks"], s["cooldown_until"]) == (3, 4, None)
    assert submit_ok(client, token, DEFAULT_SYMBOLS[4])["remaining_slots"] == 2
    assert ad_rows(db, user_id) == [("COOLDOWN", 1, None), ("COOLDOWN", 3, None)]
    page = history(client, token)
    assert page["meta"]["total"] == 2
    # Newest first.
    assert [(h["method"], h["unlocked_slots"]) for h in page["data"]] == [("COOLDOWN", 3), ("COOLDOWN", 1)]
    # Fewer than three available again: a new five-minute timer from this submit.
    s = slot_status(client, token)
    assert (s["used"], s["available"], s["cooldown_until"]) == (5, 2, kst(start + 35 * MINUTE))

    # Cancelling a prediction gives its slot back (and three available stops the timer).
    r = client.delete(f"/v1/predictions/{DEFAULT_SYMBOLS[4]}", headers=bearer(token))
    assert r.status_code == 200 and r.json()["data"]["remaining_slots"] == 3
    s = slot_status(client, token)
    assert (s["used"], s["available"], s["cooldown_until"]) == (4, 3, None)
    assert len(ad_rows(db, user_id)) == 2  # a refund is not an unlock


@pytest.mark.usefixtures("day_open")
def test_cooldown_recovery_survives_a_restart_because_nothing_is_kept_in_memory(
    client: TestClient,
    clock: FrozenClock,
    settings: Settings,
    engine: Engine,
    rollback_sessionmaker: sessionmaker[Session],
) -> None:
    token = dev_login(client, "restart.slots@example.com")["access_token"]
    start = clock.now()
    use_base_slots(client, token)
    clock.set(start + 7 * MINUTE + timedelta(seconds=30))
    before = slot_status(client, token)
    assert (before["available"], before["cooldown_until"]) == (1, kst(start + 10 * MINUTE))

    # A second app: its own container, its own clock object (same instant), the same database.
    restarted_clock = FrozenClock(clock.now())
    container = build_test_container(settings, restarted_clock, engine)
    container.sessionmaker.override(providers.Object(rollback_sessionmaker))
    with TestClient(create_app(container=container), raise_server_exceptions=False) as restarted:
        assert slot_status(restarted, token) == before
        # Both apps keep agreeing as time moves on.
        restarted_clock.set(start + 15 * MINUTE)
        clock.set(start + 15 * MINUTE)
        after = slot_status(restarted, token)
        assert (after["available"], after["cooldown_unlocks"], after["cooldown_until"]) == (3, 3, None)
        assert slot_status(client, token) == after
        # A write through the restarted app is seen by the first one.
        assert submit_ok(restarted, token, DEFAULT_SYMBOLS[3])["remaining_slots"] == 2
    assert slot_status(client, token)["used"] == 4


# --- ad receipts -------------------------------------------------------------------------


@pytest.mark.usefixtures("day_open")
def test_a_valid_ad_receipt_unlocks_one_slot(
    client: TestClient, clock: FrozenClock, settings: Settings, db: Session
) -> None:
    player = dev_login(client, "ad.valid@example.com")
    token, user_id = player["access_token"], player["user"]["id"]
    code, body = unlock(client, token, receipt(settings, user_id, "nonce-valid-0001", now_s(clock)))
    assert code == 200 and body["success"] is True, body
    expected = {**FRESH_STATUS, "ad_unlocks_used": 1, "capacity": 4, "available": 4}
    assert body["data"] == expected
    assert slot_status(client, token) == expected
    assert ad_rows(db, user_id) == [("AD", 1, "nonce-valid-0001")]
    page = history(client, token)
    assert [(h["method"], h["unlocked_slots"], h["created_at"]) for h in page["data"]] == [
        ("AD", 1, "2026-11-23T10:00:00+09:00")
    ]


@pytest.mark.usefixtures("day_open")
def test_an_ad_receipt_exactly_five_minutes_old_or_ahead_is_still_accepted(
    client: TestClient, clock: FrozenClock, settings: Settings
) -> None:
    player = dev_login(client, "ad.edge@example.com")
    token, user_id = player["access_token"], player["user"]["id"]
    max_age = settings.ad_receipt_max_age_s
    assert max_age == 300
    now = now_s(clock)
    assert unlock(client, token, receipt(settings, user_id, "edge-old-0001", now - max_age))[0] == 200
    assert unlock(client, token, receipt(settings, user_id, "edge-new-0001", now + max_age))[0] == 200
    assert slot_status(client, token)["ad_unlocks_used"] == 2


@pytest.mark.usefixtures("day_open")
def test_rejected_ad_receipts_unlock_nothing_and_record_nothing(
    client: TestClient, clock: FrozenClock, settings: Settings, db: Session
) -> None:
    player = dev_login(client, "ad.rejects@example.com")
    other = dev_login(client, "ad.rejects.other@example.com")
    token, user_id = player["access_token"], player["user"]["id"]
    use_base_slots(client, token)  # some state worth keeping: used 3, cooldown running
    before = slot_status(client, token)
    now = now_s(clock)

    good = receipt(settings, user_id, "forged-base-0001", now)
    theirs = receipt(settings, other["user"]["id"], "theirs-0001", now)
    other_key = receipt(settings, user_id, "wrong-key-0001", now, secret="x")
    flipped = ("0" if good["signature"][0] != "0" else "1") + good["signature"][1:]
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("tampered signature", {**good, "signature": flipped}, 400, "AD_001"),
        ("signed with another secret", other_key, 400, "AD_001"),
        ("tampered nonce", {**good, "nonce": "forged-base-0002"}, 400, "AD_001"),
        ("tampered issued_at", {**good, "issued_at": now - 1}, 400, "AD_001"),
        ("tampered user_id", {**good, "user_id": other["user"]["id"]}, 400, "AD_001"),
        ("another player's receipt", theirs, 400, "AD_001"),
        ("stale by 301 s", receipt(settings, user_id, "stale-0001", now - 301), 400, "AD_002"),
        ("301 s in the future", receipt(settings, user_id, "future-0001", now + 301), 400, "AD_002"),
    ]  # fmt: skip
    for label, body, expected_status, expected_code in cases:
        code, resp = unlock(client, token, body)
        assert (code, resp["error"]["code"]) == (expected_status, expected_code), label
        assert resp["success"] is False and resp["data"] is None, label
        assert slot_status(client, token) == before, label
        assert ad_rows(db, user_id) == [], label
    assert ad_rows(db, other["user"]["id"]) == []
    assert slot_status(client, other["access_token"]) == FRESH_STATUS
    # A rejected (forged) receipt does not burn its nonce: the genuine receipt still works.
    assert unlock(client, token, good)[0] == 200


@pytest.mark.usefixtures("day_open")
def test_a_replayed_ad_receipt_is_AD_003_and_unlocks_nothing(
    client: TestClient, clock: FrozenClock, settings: Settings, db: Session
) -> None:
    player = dev_login(client, "ad.replay@example.com")
    token, user_id = player["access_token"], player["user"]["id"]
    body = receipt(settings, user_id, "replay-nonce-0001", now_s(clock))
    assert unlock(client, token, body)[0] == 200
    after_first = slot_status(client, token)
    assert after_first["ad_unlocks_used"] == 1 and after_first["available"] == 4
    code, resp = unlock(client, token, body)
    assert (code, resp["error"]["code"]) == (409, "AD_003")
    # Still a replay a minute later (the nonce is single-use, not just for a while).
    clock.advance(MINUTE)
    code, resp = unlock(client, token, body)
    assert (code, resp["error"]["code"]) == (409, "AD_003")
    assert slot_status(client, token) == after_first
    assert ad_rows(db, user_id) == [("AD", 1, "replay-nonce-0001")]


@pytest.mark.usefixtures("day_open")
def test_after_seven_ad_unlocks_the_eighth_is_AD_004_and_can_unlock_turns_false(
    client: TestClient, clock: FrozenClock, settings: Settings, db: Session
) -> None:
    player = dev_login(client, "ad.cap@example.com")
    token, user_id = player["access_token"], player["user"]["id"]
    for i in range(1, 8):
        code, body = unlock(client, token, receipt(settings, user_id, f"cap-nonce-{i:04d}", now_s(clock)))
        assert code == 200, body
        assert body["data"]["ad_unlocks_used"] == i and body["data"]["available"] == 3 + i
        assert body["data"]["can_unlock"] is (i < 7)
    full = slot_status(client, token)
    assert {k: full[k] for k in ("ad_unlocks_used", "capacity", "available", "can_unlock")} == {
        "ad_unlocks_used": 7,
        "capacity": 10,
        "available": 10,
        "can_unlock": False,
    }
    code, body = unlock(client, token, receipt(settings, user_id, "cap-nonce-0008", now_s(clock)))
    assert (code, body["error"]["code"]) == (409, "AD_004")
    assert body["error"]["details"] == {"ad_unlocks_used": 7}
    assert slot_status(client, token) == full
    rows = ad_rows(db, user_id)
    assert len(rows) == 7 and "cap-nonce-0008" not in {nonce for _, _, nonce in rows}


@pytest.mark.usefixtures("day_open")
def test_a_dev_receipt_is_accepted_by_unlock(client: TestClient, clock: FrozenClock, db: Session) -> None:
    player = dev_login(client, "ad.dev@example.com")
    token, user_id = player["access_token"], player["user"]["id"]
    r = client.post("/v1/ads/dev-receipt", headers=bearer(token))
    assert r.status_code == 200, r.text
    dev = r.json()["data"]
    assert dev["user_id"] == user_id and dev["issued_at"] == now_s(clock)
    assert len(dev["signature"]) == 64 and 8 <= len(dev["nonce"]) <= 128
    assert ad_rows(db, user_id) == []  # issuing a receipt unlocks nothing by itself
    code, body = unlock(client, token, dev)
    assert code == 200, body
    assert body["data"]["ad_unlocks_used"] == 1 and body["data"]["available"] == 4
    assert ad_rows(db, user_id) == [("AD", 1, dev["nonce"])]
    # Another player cannot spend it.
    thief = dev_login(client, "ad.dev.thief@example.com")
    code, body = unlock(client, thief["access_token"], dev)
    assert (code, body["error"]["code"]) == (400, "AD_001")


# --- the day's maximum and isolation ------------------------------------------------------


@pytest.mark.usefixtures("day_open")
def test_three_base_plus_seven_ads_allow_ten_predictions_at_once_then_the_cooldown_keeps_giving_slots(
    client: TestClient, clock: FrozenClock, settings: Settings
) -> None:
    """Ads are capped (7), the day is not: with available < 3 the cooldown runs even at
    base + every ad, and the eleventh submit is PRED_003 (a slot comes back), not PRED_002."""
    assert len(DEFAULT_SYMBOLS) >= 11
    player = dev_login(client, "day.max@example.com")
    token, user_id = player["access_token"], player["user"]["id"]
    start = clock.now()
    for i in range(7):
        assert unlock(client, token, receipt(settings, user_id, f"max-nonce-{i:04d}", now_s(clock)))[0] == 200
    remaining = [submit_ok(client, token, symbol)["remaining_slots"] for symbol in DEFAULT_SYMBOLS[:10]]
    assert remaining == list(range(9, -1, -1))
    s = slot_status(client, token)
    # The eighth submit left 2 available: the cooldown started then (all at 10:00).
    assert {k: s[k] for k in ("used", "capacity", "available", "cooldown_unlocks", "cooldown_until")} == {
        "used": 10,
        "capacity": 10,
        "available": 0,
        "cooldown_unlocks": 0,
        "cooldown_until": kst(start + 5 * MINUTE),
    }
    assert s["can_unlock"] is False  # 7 of 7 ads used
    code, body = submit(client, token, DEFAULT_SYMBOLS[10])
    assert (code, body["error"]["code"]) == (409, "PRED_003")
    assert body["error"]["details"] == {"cooldown_until": kst(start + 5 * MINUTE)}
    code, body = unlock(client, token, receipt(settings, user_id, "max-nonce-0007", now_s(clock)))
    assert (code, body["error"]["code"]) == (409, "AD_004")
    # Time helps: the eleventh prediction takes the slot the cooldown gives back at 10:05.
    clock.set(start + 5 * MINUTE)
    assert submit_ok(client, token, DEFAULT_SYMBOLS[10])["remaining_slots"] == 0
    s = slot_status(client, token)
    assert (s["used"], s["cooldown_unlocks"], s["capacity"], s["available"]) == (11, 1, 11, 0)
    assert s["cooldown_until"] == kst(start + 10 * MINUTE)
    # Half an hour on: back to three available (the target), the timer stops.
    clock.set(start + 35 * MINUTE)
    s = slot_status(client, token)
    assert (s["used"], s["cooldown_unlocks"], s["capacity"], s["available"], s["cooldown_until"]) == (
        11,
        4,
        14,
        3,
        None,
    )
    assert (s["ad_unlocks_used"], s["can_unlock"]) == (7, False)


@pytest.mark.usefixtures("day_open")
def test_a_players_slots_are_their_own(client: TestClient, clock: FrozenClock, settings: Settings) -> None:
    alice = dev_login(client, "slots.alice@example.com")
    bob = dev_login(client, "slots.bob@example.com")
    use_base_slots(client, alice["access_token"])
    assert (
        unlock(
            client,
            alice["access_token"],
            receipt(settings, alice["user"]["id"], "alice-nonce-01", now_s(clock)),
        )[0]
        == 200
    )
    assert slot_status(client, alice["access_token"])["used"] == 3
    assert slot_status(client, bob["access_token"]) == FRESH_STATUS
    assert history(client, bob["access_token"])["meta"]["total"] == 0
    # Bob's own predictions start from his three base slots, with no cooldown inherited.
    assert submit_ok(client, bob["access_token"], DEFAULT_SYMBOLS[0])["remaining_slots"] == 2
    # And Alice's cooldown still blocks only Alice.
    code, body = submit(client, alice["access_token"], DEFAULT_SYMBOLS[4])
    assert code == 202, body  # the ad slot
    code, body = submit(client, alice["access_token"], DEFAULT_SYMBOLS[5])
    assert (code, body["error"]["code"]) == (409, "PRED_003")
    assert slot_status(client, bob["access_token"])["used"] == 1
