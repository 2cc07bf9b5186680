"""A fair day (docs/api.md "Slots, ads and cooldown"): the regressions of the issue, and
the closed-session refusal of ads (AD_005).

1. Cooldown recoveries used to count into a capacity capped at base + max ads (10): a
   player who waited out seven cooldowns was refused every ad (AD_004, 0 of 7 used).
2. At that cap no cooldown ran although fewer than 3 slots were available.
3. An ad was accepted after the cutoff, for a slot that could no longer be used.

Real HTTP through the app and real PostgreSQL, as in test_slots_ads.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.cycle.repository import SessionsRepository
from tests.support.days import DAY
from tests.support.factories import open_day
from tests.support.http import dev_login
from tests.support.slots import (
    MANY_SYMBOLS,
    ad_rows,
    cancel,
    dev_receipt,
    kst,
    now_s,
    receipt,
    slot_status,
    submit,
    submit_ok,
    unlock,
    watch_ad,
)

MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


@pytest.fixture
def big_day(db: Session, clock: FrozenClock, settings: Settings) -> None:
    """The default day with a 40-symbol universe: room for many predictions."""
    open_day(db, clock, settings, MANY_SYMBOLS)


def cutoff_of(db: Session) -> datetime:
    row = SessionsRepository(db).get(DAY)
    assert row is not None
    return row.predict_cutoff_at


def numbers(status: dict[str, object]) -> tuple[object, ...]:
    """(used, ad_unlocks_used, cooldown_unlocks, capacity, available, cooldown_until)."""
    keys = ("used", "ad_unlocks_used", "cooldown_unlocks", "capacity", "available", "cooldown_until")
    return tuple(status[k] for k in keys)


# --- 1. cooldown recoveries do not use up the ads -----------------------------------------


@pytest.mark.usefixtures("big_day")
def test_after_waiting_out_seven_cooldowns_all_seven_ads_are_still_there(
    client: TestClient, clock: FrozenClock, db: Session
) -> None:
    player = dev_login(client, "fair.waiter@example.com")
    token, user_id = player["access_token"], player["user"]["id"]
    start = clock.now()
    symbols = iter(MANY_SYMBOLS)
    for _ in range(3):
        submit_ok(client, token, next(symbols))
    # Seven times: wait the cooldown out, take the slot it gave back.
    for i in range(1, 8):
        clock.set(start + 5 * i * MINUTE)
        assert submit_ok(client, token, next(symbols))["remaining_slots"] == 0
    s = slot_status(client, token)
    assert numbers(s) == (10, 0, 7, 10, 0, kst(start + 40 * MINUTE))
    assert s["can_unlock"] is True  # 0 of 7 ads used (it was False, and the ad AD_004)

    # All seven ads are accepted, on top of the seven recoveries.
    for i in range(1, 8):
        code, body = watch_ad(client, token)
        assert code == 200, body
        # The timer runs on while fewer than 3 are available, and stops at 3.
        until = kst(start + 40 * MINUTE) if i < 3 else None
        assert numbers(body["data"]) == (10, i, 7, 10 + i, i, until)
        assert body["data"]["can_unlock"] is (i < 7)
    code, body = watch_ad(client, token)
    assert (code, body["error"]["code"]) == (409, "AD_004")
    assert body["error"]["details"] == {"ad_unlocks_used": 7}

    # Recoveries have no daily cap: use the seven ad slots, and the cooldown gives more back.
    for _ in range(7):
        submit_ok(client, token, next(symbols))
    assert numbers(slot_status(client, token)) == (17, 7, 7, 17, 0, kst(start + 40 * MINUTE))
    clock.set(start + 40 * MINUTE)
    assert numbers(slot_status(client, token)) == (17, 7, 8, 18, 1, kst(start + 45 * MINUTE))
    clock.set(start + 50 * MINUTE)
    assert numbers(slot_status(client, token)) == (17, 7, 10, 20, 3, None)
    assert submit_ok(client, token, next(symbols))["remaining_slots"] == 2
    rows = ad_rows(db, user_id)
    assert [m for m, _, _ in rows].count("AD") == 7
    assert sum(n for m, n, _ in rows if m == "COOLDOWN") == 10


# --- 2. the cooldown runs whenever fewer than three are available -------------------------


@pytest.mark.usefixtures("big_day")
def test_after_seven_ads_and_nine_predictions_the_cooldown_runs(
    client: TestClient, clock: FrozenClock
) -> None:
    token = dev_login(client, "fair.spender@example.com")["access_token"]
    start = clock.now()
    symbols = iter(MANY_SYMBOLS)
    for _ in range(7):
        assert watch_ad(client, token)[0] == 200
    for _ in range(7):
        submit_ok(client, token, next(symbols))
    assert numbers(slot_status(client, token)) == (7, 7, 0, 10, 3, None)
    # The eighth prediction leaves 2: the timer starts (it used not to, at capacity 10).
    clock.set(start + MINUTE)
    assert submit_ok(client, token, next(symbols))["remaining_slots"] == 2
    assert slot_status(client, token)["cooldown_until"] == kst(start + 6 * MINUTE)
    # The ninth does not restart it.
    clock.set(start + 2 * MINUTE)
    assert submit_ok(client, token, next(symbols))["remaining_slots"] == 1
    s = slot_status(client, token)
    assert numbers(s) == (9, 7, 0, 10, 1, kst(start + 6 * MINUTE))
    assert s["can_unlock"] is False  # the ads are used up; the cooldown is not
    clock.set(start + 6 * MINUTE)
    assert numbers(slot_status(client, token)) == (9, 7, 1, 11, 2, kst(start + 11 * MINUTE))
    clock.set(start + 11 * MINUTE)
    assert numbers(slot_status(client, token)) == (9, 7, 2, 12, 3, None)
    # Three more predictions: the tenth, eleventh and twelfth of the day.
    assert [submit_ok(client, token, next(symbols))["remaining_slots"] for _ in range(3)] == [2, 1, 0]
    code, body = submit(client, token, next(symbols))
    assert (code, body["error"]["code"]) == (409, "PRED_003")
    assert body["error"]["details"] == {"cooldown_until": kst(start + 16 * MINUTE)}


# --- 3. no ad once the session is closed (AD_005) -----------------------------------------


@pytest.mark.usefixtures("big_day")
def test_an_ad_at_or_after_the_cutoff_is_AD_005_and_does_not_burn_the_receipt(
    client: TestClient, clock: FrozenClock, settings: Settings, db: Session
) -> None:
    cutoff = cutoff_of(db)
    assert kst(cutoff) == "2026-11-23T23:25:00+09:00"  # 5 minutes before the NYSE open
    clock.set(cutoff - MINUTE)
    player = dev_login(client, "fair.late@example.com")
    token, user_id = player["access_token"], player["user"]["id"]
    for symbol in MANY_SYMBOLS[:3]:
        submit_ok(client, token, symbol)
    late = dev_receipt(client, token)  # signed a minute before the cutoff
    before = slot_status(client, token)
    assert before["can_unlock"] is True

    clock.set(cutoff)
    at_cutoff = slot_status(client, token)
    assert at_cutoff == {**before, "can_unlock": False}
    code, body = unlock(client, token, late)
    assert (code, body["success"], body["error"]["code"]) == (409, False, "AD_005")
    closed = {
        "trading_day": "2026-11-23",
        "phase": "PREDICT",  # the cutoff job has not run: the clock decides
        "predict_cutoff_at": "2026-11-23T23:25:00+09:00",
        "reason": "PAST_CUTOFF",
    }
    assert body["error"]["details"] == closed
    assert slot_status(client, token) == at_cutoff
    assert [m for m, _, _ in ad_rows(db, user_id)] == []
    # The slot could not have been used: a submit now is PRED_001, with the same cutoff.
    code, body = submit(client, token, MANY_SYMBOLS[3])
    assert (code, body["error"]["code"]) == (409, "PRED_001")
    assert body["error"]["details"]["predict_cutoff_at"] == closed["predict_cutoff_at"]

    # The order of the checks: forged and stale first, then closed, then replay.
    now = now_s(clock)
    forged = {**late, "nonce": "late-forged-0001"}
    stale = receipt(settings, user_id, "late-stale-0001", now - settings.ad_receipt_max_age_s - 1)
    assert unlock(client, token, forged)[1]["error"]["code"] == "AD_001"
    assert unlock(client, token, stale)[1]["error"]["code"] == "AD_002"

    # A second before the cutoff the same receipt is accepted: AD_005 did not burn it.
    clock.set(cutoff - SECOND)
    code, body = unlock(client, token, late)
    assert code == 200, body
    assert (body["data"]["ad_unlocks_used"], body["data"]["available"]) == (1, 1)
    assert ad_rows(db, user_id) == [("AD", 1, late["nonce"])]
    # Spent now; but past the cutoff the session is judged before the replay.
    assert unlock(client, token, late)[1]["error"]["code"] == "AD_003"
    clock.set(cutoff + 3 * MINUTE)  # the receipt is 4 minutes old: not stale yet
    code, body = unlock(client, token, late)
    assert (code, body["error"]["code"]) == (409, "AD_005")


@pytest.mark.usefixtures("big_day")
def test_an_ad_in_phase_SETTLE_is_AD_005_even_before_the_cutoff_instant(
    client: TestClient, clock: FrozenClock, db: Session
) -> None:
    player = dev_login(client, "fair.settle@example.com")
    token, user_id = player["access_token"], player["user"]["id"]
    assert SessionsRepository(db).flip_to_settle(DAY, clock.now())
    db.flush()
    assert slot_status(client, token)["can_unlock"] is False
    code, body = watch_ad(client, token)
    assert (code, body["error"]["code"]) == (409, "AD_005")
    assert body["error"]["details"] == {
        "trading_day": "2026-11-23",
        "phase": "SETTLE",
        "predict_cutoff_at": kst(cutoff_of(db)),
        "reason": "NOT_PREDICT_PHASE",
    }
    assert ad_rows(db, user_id) == []


def test_an_ad_before_the_day_is_opened_is_AD_005(client: TestClient, db: Session) -> None:
    player = dev_login(client, "fair.early@example.com")
    token, user_id = player["access_token"], player["user"]["id"]
    s = slot_status(client, token)
    assert (s["available"], s["ad_unlocks_used"], s["can_unlock"]) == (3, 0, False)
    code, body = watch_ad(client, token)
    assert (code, body["error"]["code"]) == (409, "AD_005")
    assert body["error"]["details"] == {"trading_day": "2026-11-23", "phase": None, "reason": "NO_SESSION"}
    assert ad_rows(db, user_id) == []


# --- the worked day of docs/api.md ----------------------------------------------------------


@pytest.mark.usefixtures("big_day")
def test_the_worked_day_of_the_docs(client: TestClient, clock: FrozenClock, db: Session) -> None:
    """docs/api.md "Slots, ads and cooldown", the table row by row: (used, ads,
    recoveries, capacity, available, cooldown_until) after each step."""
    email = "fair.docs@example.com"
    token = dev_login(client, email)["access_token"]
    start = clock.now()
    assert kst(start) == "2026-11-23T10:00:00+09:00"
    symbols = iter(MANY_SYMBOLS)

    def at(minute: int) -> None:
        clock.set(start + minute * MINUTE)

    def row(used: int, ads: int, recoveries: int, available: int, until: int | None) -> tuple[object, ...]:
        cooldown_until = None if until is None else kst(start + until * MINUTE)
        return (used, ads, recoveries, 3 + ads + recoveries, available, cooldown_until)

    for _ in range(3):
        submit_ok(client, token, next(symbols))
    assert numbers(slot_status(client, token)) == row(3, 0, 0, 0, 5)
    at(2)
    code, body = submit(client, token, MANY_SYMBOLS[3])
    assert (code, body["error"]["code"], body["error"]["details"]) == (
        409,
        "PRED_003",
        {"cooldown_until": kst(start + 5 * MINUTE)},
    )
    assert numbers(slot_status(client, token)) == row(3, 0, 0, 0, 5)
    at(5)
    assert numbers(slot_status(client, token)) == row(3, 0, 1, 1, 10)
    at(7)
    submit_ok(client, token, next(symbols))
    assert numbers(slot_status(client, token)) == row(4, 0, 1, 0, 10)
    at(8)
    assert watch_ad(client, token)[0] == 200
    assert numbers(slot_status(client, token)) == row(4, 1, 1, 1, 10)
    at(10)
    assert numbers(slot_status(client, token)) == row(4, 1, 2, 2, 15)
    at(12)
    assert watch_ad(client, token)[0] == 200
    assert numbers(slot_status(client, token)) == row(4, 2, 2, 3, None)
    at(31)
    code, _ = cancel(client, token, MANY_SYMBOLS[0])
    assert code == 200
    assert numbers(slot_status(client, token)) == row(3, 2, 2, 4, None)
    at(32)
    assert [submit_ok(client, token, next(symbols))["remaining_slots"] for _ in range(2)] == [3, 2]
    assert numbers(slot_status(client, token)) == row(5, 2, 2, 2, 37)
    at(50)
    assert numbers(slot_status(client, token)) == row(5, 2, 3, 3, None)
    clock.set(cutoff_of(db))
    token = dev_login(client, email)["access_token"]  # the first access token lives one hour
    code, body = watch_ad(client, token)
    assert (code, body["error"]["code"], body["error"]["details"]["reason"]) == (409, "AD_005", "PAST_CUTOFF")
    s = slot_status(client, token)
    assert numbers(s) == row(5, 2, 3, 3, None) and s["can_unlock"] is False
