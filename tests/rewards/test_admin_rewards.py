"""The operator's rewards routes (/admin/rewards), over HTTP with an ADMIN: the
inventory (upsert, strict input, deactivate, the counts), the redemptions list (filters,
never a code), retrying a FAILED redemption (once) and refunding a stuck one (never
while a vendor call may still answer; an open vendor answer only with force), each
audited.
Sagas run for real (outbox -> relay -> SQS -> worker) against the HTTP vendor client and
a local fake vendor (tests/support/fake_vendor.py). Who may call these routes at all is
tests/api/test_access_control.py's subject; one player token is refused here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from myapi.core.enums import RedemptionStatus
from myapi.providers.rewards import HttpRewardVendor, VendorOrder
from myapi.rewards.service import RedemptionSteps
from tests.support.db import failed_checks
from tests.support.fake_vendor import (
    VENDOR_NAME,
    FakeGiftVendor,
    fake_vendor_settings,
    vendor_code,
    wire_fake_vendor,
)
from tests.support.http import bearer, dev_login, error_code
from tests.support.pipeline import Pipeline
from tests.support.rewards import add_reward, inventory, redemption, run_sagas, sweep, vendor_key

START = 1000  # the signup bonus
INVENTORY = "/admin/rewards/inventory"
REDEMPTIONS = "/admin/rewards/redemptions"


@pytest.fixture
def pipeline(pipeline: Pipeline, fake: FakeGiftVendor) -> Iterator[Pipeline]:
    """The pipeline (and so `api`) with the HTTP vendor "giftvendor" at the fake."""
    wire_fake_vendor(pipeline.container, fake_vendor_settings(pipeline.settings, fake), lambda _s: None)
    yield pipeline
    pipeline.container.reward_http().close()


@pytest.fixture
def admin(api: TestClient) -> tuple[dict[str, str], int]:
    login = dev_login(api, "rewards.admin@example.com", role="ADMIN")
    return bearer(login["access_token"]), int(login["user"]["id"])


@pytest.fixture
def auth(admin: tuple[dict[str, str], int]) -> dict[str, str]:
    return admin[0]


# --- helpers ------------------------------------------------------------------------------


def _player(api: TestClient, email: str = "rewards.player@example.com") -> tuple[dict[str, str], int]:
    login = dev_login(api, email)
    return bearer(login["access_token"]), int(login["user"]["id"])


def _item(sku: str = "GIFT-10", **fields: Any) -> dict[str, Any]:
    title = f"{sku.upper()} gift card"
    return {"sku": sku, "title": title, "cost_points": 400, "stock": 5, "vendor": VENDOR_NAME, **fields}


def _redeem(api: TestClient, player: dict[str, str], sku: str) -> int:
    r = api.post("/v1/rewards/redeem", json={"sku": sku}, headers=player)
    assert r.status_code == 202, r.text
    return int(r.json()["data"]["redemption_id"])


def _balance(api: TestClient, player: dict[str, str]) -> tuple[int, int]:
    """(balance, held) of the player."""
    data = api.get("/v1/points/balance", headers=player).json()["data"]
    return data["balance"], data["held"]


def _rows(p: Pipeline, sql: str, **params: object) -> list[dict[str, Any]]:
    with p.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql), params)]


def _audits(p: Pipeline, action: str) -> list[dict[str, Any]]:
    return _rows(
        p, "SELECT actor, actor_user_id, target, payload FROM crypto.audit_log WHERE action = :a ORDER BY id",
        a=action,
    )  # fmt: skip


def _debits(p: Pipeline, rid: int) -> list[int]:
    rows = _rows(
        p,
        "SELECT delta_points FROM crypto.points_ledger WHERE ref_type = 'REDEEM' AND ref_id = :r",
        r=str(rid),
    )
    return [r["delta_points"] for r in rows]


def _integrity_ok(p: Pipeline) -> None:
    with p.session() as s:
        assert failed_checks(s, p.clock.now()) == {}


def _failed_redemption(
    api: TestClient, p: Pipeline, fake: FakeGiftVendor, sku: str
) -> tuple[dict[str, str], int, int]:
    """A player's redemption of `sku` the vendor refused (FAILED): (player, user id, id)."""
    fake.rejected[sku] = (422, "sold out")
    player, user_id = _player(api)
    rid = _redeem(api, player, sku)
    assert run_sagas(p) == 1
    assert redemption(p, rid)["status"] == RedemptionStatus.FAILED
    fake.rejected.clear()
    return player, user_id, rid


# --- the inventory --------------------------------------------------------------------------


def test_upsert_creates_then_updates_a_sku_and_audits_both(
    api: TestClient, pipeline: Pipeline, admin: tuple[dict[str, str], int]
) -> None:
    p = pipeline
    auth, admin_id = admin
    r = api.post(INVENTORY, json=_item("gift-10"), headers=auth)
    assert r.status_code == 200, r.text
    created = r.json()["data"]
    assert {k: created[k] for k in ("sku", "title", "cost_points", "stock", "reserved", "issued", "available",
                                    "vendor", "is_active")} == {
        "sku": "GIFT-10", "title": "GIFT-10 gift card", "cost_points": 400, "stock": 5, "reserved": 0,
        "issued": 0, "available": 5, "vendor": VENDOR_NAME, "is_active": True,
    }  # fmt: skip
    catalog = api.get("/v1/rewards/catalog").json()["data"]
    assert [(i["sku"], i["cost_points"], i["available"]) for i in catalog] == [("GIFT-10", 400, 5)]

    r = api.post(INVENTORY, json=_item("GIFT-10", title="Ten", cost_points=450, stock=8), headers=auth)
    assert r.status_code == 200, r.text
    updated = r.json()["data"]
    assert (updated["title"], updated["cost_points"], updated["stock"], updated["available"]) == (
        "Ten",
        450,
        8,
        8,
    )
    assert inventory(p, "GIFT-10") == (8, 0, 0)

    audits = _audits(p, "rewards.inventory.upsert")
    assert [(a["actor"], a["actor_user_id"], a["target"]) for a in audits] == [
        (f"user:{admin_id}", admin_id, "sku:GIFT-10")
    ] * 2
    assert audits[0]["payload"] == {"title": "GIFT-10 gift card", "cost_points": 400, "stock": 5,
                                    "vendor": VENDOR_NAME, "is_active": True, "created": True}  # fmt: skip
    assert audits[1]["payload"]["created"] is False and audits[1]["payload"]["cost_points"] == 450
    _integrity_ok(p)


STRICT_CASES: dict[str, dict[str, Any]] = {
    "bool cost": {"cost_points": True},
    "string stock": {"stock": "5"},
    "float cost": {"cost_points": 12.0},
    "string active": {"is_active": "yes"},
    "zero cost": {"cost_points": 0},
    "negative stock": {"stock": -1},
    "bad sku": {"sku": "no spaces"},
    "empty title": {"title": ""},
    "unknown field": {"price": 400},
}


def test_upsert_input_is_strict(api: TestClient, pipeline: Pipeline, auth: dict[str, str]) -> None:
    for case, change in STRICT_CASES.items():
        r = api.post(INVENTORY, json={**_item(), **change}, headers=auth)
        assert r.status_code == 422, (case, r.text)
        assert error_code(r) == "SYS_422", case
    body = _item()
    del body["stock"]
    r = api.post(INVENTORY, json=body, headers=auth)
    assert r.status_code == 422 and error_code(r) == "SYS_422"
    assert api.get(INVENTORY, headers=auth).json()["data"] == []
    assert _audits(pipeline, "rewards.inventory.upsert") == []


def test_upsert_with_an_unknown_vendor_is_reward_007(
    api: TestClient, pipeline: Pipeline, auth: dict[str, str]
) -> None:
    r = api.post(INVENTORY, json=_item(vendor="nosuchvendor"), headers=auth)
    assert r.status_code == 422 and error_code(r) == "REWARD_007"
    assert set(r.json()["error"]["details"]["configured"]) == {VENDOR_NAME, "sandbox"}
    assert api.get(INVENTORY, headers=auth).json()["data"] == []
    assert _audits(pipeline, "rewards.inventory.upsert") == []


def test_stock_cannot_go_below_reserved_plus_issued(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, auth: dict[str, str]
) -> None:
    p = pipeline
    assert api.post(INVENTORY, json=_item(stock=5), headers=auth).status_code == 200
    player, _ = _player(api)
    _redeem(api, player, "GIFT-10")
    assert run_sagas(p) == 1  # issued
    fake.pending_polls["GIFT-10"] = 1000
    _redeem(api, player, "GIFT-10")
    assert run_sagas(p) == 1  # reserved, the vendor's answer PENDING
    assert inventory(p, "GIFT-10") == (5, 1, 1)

    r = api.post(INVENTORY, json=_item(stock=1), headers=auth)
    assert r.status_code == 409 and error_code(r) == "REWARD_005"
    assert r.json()["error"]["details"] == {"stock": 1, "reserved": 1, "issued": 1}
    assert inventory(p, "GIFT-10") == (5, 1, 1)
    r = api.post(INVENTORY, json=_item(stock=2), headers=auth)  # exactly what is committed
    assert r.status_code == 200, r.text
    assert r.json()["data"]["available"] == 0
    assert len(_audits(p, "rewards.inventory.upsert")) == 2  # the refused one left no row
    _integrity_ok(p)


def test_deactivate_hides_the_sku_refuses_redeem_and_audits(
    api: TestClient, pipeline: Pipeline, admin: tuple[dict[str, str], int]
) -> None:
    p = pipeline
    auth, admin_id = admin
    assert api.post(INVENTORY, json=_item(), headers=auth).status_code == 200
    r = api.post(f"{INVENTORY}/gift-10/deactivate", json={"reason": "vendor contract ended"}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["is_active"] is False and r.json()["data"]["sku"] == "GIFT-10"

    assert api.get("/v1/rewards/catalog").json()["data"] == []
    listed = api.get(INVENTORY, headers=auth).json()["data"]
    assert [(i["sku"], i["is_active"]) for i in listed] == [("GIFT-10", False)]
    player, _ = _player(api)
    r = api.post("/v1/rewards/redeem", json={"sku": "GIFT-10"}, headers=player)
    assert r.status_code == 404 and error_code(r) == "REWARD_003"
    assert _balance(api, player) == (START, 0)

    audits = _audits(p, "rewards.inventory.deactivate")
    assert audits == [{"actor": f"user:{admin_id}", "actor_user_id": admin_id, "target": "sku:GIFT-10",
                       "payload": {"reason": "vendor contract ended"}}]  # fmt: skip
    r = api.post(f"{INVENTORY}/NOPE/deactivate", json={"reason": "no such sku"}, headers=auth)
    assert r.status_code == 404 and error_code(r) == "REWARD_003"
    r = api.post(f"{INVENTORY}/GIFT-10/deactivate", json={"reason": ""}, headers=auth)
    assert r.status_code == 422
    _integrity_ok(p)


def test_deactivate_lets_the_redemptions_in_flight_finish_or_fail(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, auth: dict[str, str]
) -> None:
    p = pipeline
    assert api.post(INVENTORY, json=_item(cost_points=300), headers=auth).status_code == 200
    fake.pending_polls["GIFT-10"] = 1
    player, _ = _player(api)
    reserved = _redeem(api, player, "GIFT-10")
    assert run_sagas(p) == 1
    assert redemption(p, reserved)["vendor_state"] == "PENDING"
    requested = _redeem(api, player, "GIFT-10")  # accepted, its saga not run yet
    r = api.post(f"{INVENTORY}/GIFT-10/deactivate", json={"reason": "discontinued"}, headers=auth)
    assert r.status_code == 200, r.text

    assert run_sagas(p) == 1
    late = redemption(p, requested)
    assert (
        late["status"] == RedemptionStatus.FAILED and late["failure_reason"] == "reward no longer available"
    )
    assert fake.count("POST", vendor_key(p, requested)) == 0 and fake.count("POST") == 1
    p.clock.advance(timedelta(seconds=p.settings.reward_vendor_poll_s + 1))
    assert sweep(p) == {"requeued": 1, "redemption_ids": [reserved]}
    assert run_sagas(p) == 1
    assert redemption(p, reserved)["status"] == RedemptionStatus.ISSUED
    assert inventory(p, "GIFT-10") == (5, 0, 1)
    assert _balance(api, player) == (START - 300, 0)
    _integrity_ok(p)


def test_inventory_lists_stock_reserved_issued_and_available(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, auth: dict[str, str]
) -> None:
    p = pipeline
    for body in (_item("GIFT-10", stock=4), _item("GIFT-50", cost_points=500, stock=2)):
        assert api.post(INVENTORY, json=body, headers=auth).status_code == 200
    player, _ = _player(api)
    _redeem(api, player, "GIFT-10")
    assert run_sagas(p) == 1
    fake.pending_polls["GIFT-10"] = 1000
    _redeem(api, player, "GIFT-10")
    assert run_sagas(p) == 1

    listed = {i["sku"]: i for i in api.get(INVENTORY, headers=auth).json()["data"]}
    assert [
        (s, i["stock"], i["reserved"], i["issued"], i["available"]) for s, i in sorted(listed.items())
    ] == [
        ("GIFT-10", 4, 1, 1, 2),
        ("GIFT-50", 2, 0, 0, 2),
    ]
    _integrity_ok(p)


# --- the redemptions --------------------------------------------------------------------------


def test_redemptions_filter_by_status_user_and_sku_and_never_show_codes(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, auth: dict[str, str]
) -> None:
    p = pipeline
    with p.session() as s:
        add_reward(s, "GIFT-10", cost=100, stock=10, vendor=VENDOR_NAME)
        add_reward(s, "GIFT-50", cost=100, stock=10, vendor=VENDOR_NAME)
    alice, alice_id = _player(api, "alice.rewards@example.com")
    bob, bob_id = _player(api, "bob.rewards@example.com")
    issued = [_redeem(api, alice, "GIFT-10"), _redeem(api, alice, "GIFT-50"), _redeem(api, bob, "GIFT-10")]
    assert run_sagas(p) == 3
    fake.rejected["GIFT-50"] = (422, "sold out")
    failed = _redeem(api, bob, "GIFT-50")
    assert run_sagas(p) == 1
    codes = [vendor_code(vendor_key(p, rid)) for rid in issued]

    def ids(**query: Any) -> list[int]:
        r = api.get(REDEMPTIONS, params=query, headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        for code in codes:
            assert code not in r.text
        assert all(item["code"] is None for item in body["data"])
        assert body["meta"]["total"] >= len(body["data"])
        return [item["id"] for item in body["data"]]

    assert ids() == [failed, *reversed(issued)]  # newest first
    assert ids(status="ISSUED") == list(reversed(issued))
    assert ids(status="FAILED") == [failed]
    assert ids(user_id=alice_id) == [issued[1], issued[0]]
    assert ids(user_id=bob_id, sku="GIFT-10") == [issued[2]]
    assert ids(sku="gift-50") == [failed, issued[1]]
    assert ids(status="CANCELLED") == []
    assert ids(created_from=p.clock.now().isoformat()) == [failed, *reversed(issued)]
    assert ids(created_to=p.clock.now().isoformat()) == []
    page = api.get(REDEMPTIONS, params={"limit": 2, "offset": 1}, headers=auth).json()
    assert [i["id"] for i in page["data"]] == [issued[2], issued[1]] and page["meta"]["total"] == 4
    one = api.get(REDEMPTIONS, params={"status": "FAILED"}, headers=auth).json()["data"][0]
    assert one["user_id"] == bob_id and one["vendor"] == VENDOR_NAME and one["vendor_attempts"] == 1
    assert one["failure_reason"] == "the vendor refused: sold out" and one["retry_of"] is None
    assert api.get(REDEMPTIONS, params={"status": "LOST"}, headers=auth).status_code == 422
    _integrity_ok(p)


def test_retry_of_a_failed_redemption_issues_a_new_one_at_the_original_cost(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, admin: tuple[dict[str, str], int]
) -> None:
    p = pipeline
    auth, admin_id = admin
    assert api.post(INVENTORY, json=_item(cost_points=400, stock=5), headers=auth).status_code == 200
    player, user_id, first = _failed_redemption(api, p, fake, "GIFT-10")
    # The catalog's cost changes meanwhile: the retry keeps the original one.
    assert api.post(INVENTORY, json=_item(cost_points=700, stock=5), headers=auth).status_code == 200

    r = api.post(f"{REDEMPTIONS}/{first}/retry", json={"reason": "vendor restocked"}, headers=auth)
    assert r.status_code == 202, r.text
    retry = r.json()["data"]
    assert retry["status"] == "REQUESTED" and retry["retry_of"] == first and retry["id"] != first
    assert retry["cost_points"] == 400 and retry["user_id"] == user_id and retry["code"] is None
    assert run_sagas(p) == 1

    rid = retry["id"]
    mine = api.get(f"/v1/rewards/redemptions/{rid}", headers=player).json()["data"]
    key = vendor_key(p, rid)
    assert key != vendor_key(p, first)  # a new order at the vendor, under a key of its own
    assert mine["status"] == "ISSUED" and mine["code"] == vendor_code(key)
    assert mine["cost_points"] == 400
    assert _balance(api, player) == (START - 400, 0)
    assert _debits(p, rid) == [-400] and _debits(p, first) == []
    assert inventory(p, "GIFT-10") == (5, 0, 1)
    assert redemption(p, first)["status"] == RedemptionStatus.FAILED  # the original stays as it was
    assert fake.count("POST", key) == 1
    assert _audits(p, "rewards.redemption.retry") == [
        {"actor": f"user:{admin_id}", "actor_user_id": admin_id, "target": f"redemption:{first}",
         "payload": {"reason": "vendor restocked", "new_redemption_id": rid}}
    ]  # fmt: skip
    # A retry is not FAILED: retrying it is refused.
    r = api.post(f"{REDEMPTIONS}/{rid}/retry", json={"reason": "again please"}, headers=auth)
    assert r.status_code == 409 and error_code(r) == "REWARD_006"
    _integrity_ok(p)


def test_retry_of_a_redemption_that_is_not_failed_is_reward_006(
    api: TestClient, pipeline: Pipeline, auth: dict[str, str]
) -> None:
    p = pipeline
    assert api.post(INVENTORY, json=_item(cost_points=300), headers=auth).status_code == 200
    player, _ = _player(api)
    issued = _redeem(api, player, "GIFT-10")
    assert run_sagas(p) == 1
    requested = _redeem(api, player, "GIFT-10")  # the saga has not run yet
    cancelled = _redeem(api, player, "GIFT-10")
    assert api.post(f"/v1/rewards/redemptions/{cancelled}/cancel", headers=player).status_code == 200
    for rid, status in ((issued, "ISSUED"), (requested, "REQUESTED"), (cancelled, "CANCELLED")):
        r = api.post(f"{REDEMPTIONS}/{rid}/retry", json={"reason": "just because"}, headers=auth)
        assert r.status_code == 409 and error_code(r) == "REWARD_006", (status, r.text)
        assert r.json()["error"]["details"] == {"status": status, "allowed": ["FAILED"]}
    r = api.post(f"{REDEMPTIONS}/999999/retry", json={"reason": "just because"}, headers=auth)
    assert r.status_code == 404 and error_code(r) == "REWARD_404"
    assert _audits(p, "rewards.redemption.retry") == []
    assert run_sagas(p) >= 1
    _integrity_ok(p)


def test_a_failed_redemption_is_retried_at_most_once(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, auth: dict[str, str]
) -> None:
    """A retry replaces the failed redemption: a second retry of the same one (a double
    click) must not give the player a second code for one failure."""
    p = pipeline
    assert api.post(INVENTORY, json=_item(), headers=auth).status_code == 200
    player, _, first = _failed_redemption(api, p, fake, "GIFT-10")
    r = api.post(f"{REDEMPTIONS}/{first}/retry", json={"reason": "vendor restocked"}, headers=auth)
    assert r.status_code == 202, r.text
    again = api.post(f"{REDEMPTIONS}/{first}/retry", json={"reason": "vendor restocked"}, headers=auth)
    assert again.status_code == 409 and error_code(again) == "REWARD_006", again.text
    assert again.json()["error"]["details"] == {"retried_as": r.json()["data"]["id"]}
    assert len(_audits(p, "rewards.redemption.retry")) == 1
    run_sagas(p)
    assert len(_rows(p, "SELECT id FROM crypto.rewards_redemptions WHERE retry_of = :f", f=first)) == 1
    assert _balance(api, player) == (START - 400, 0)


def test_retry_when_the_sku_was_deactivated_is_reward_003(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, auth: dict[str, str]
) -> None:
    p = pipeline
    assert api.post(INVENTORY, json=_item(), headers=auth).status_code == 200
    _, _, first = _failed_redemption(api, p, fake, "GIFT-10")
    assert (
        api.post(f"{INVENTORY}/GIFT-10/deactivate", json={"reason": "discontinued"}, headers=auth).status_code
        == 200
    )
    r = api.post(f"{REDEMPTIONS}/{first}/retry", json={"reason": "vendor restocked"}, headers=auth)
    assert r.status_code == 404 and error_code(r) == "REWARD_003"
    assert len(_rows(p, "SELECT id FROM crypto.rewards_redemptions")) == 1


def _refund(api: TestClient, auth: dict[str, str], rid: int, reason: str, **body: Any) -> Any:
    return api.post(f"{REDEMPTIONS}/{rid}/refund", json={"reason": reason, **body}, headers=auth)


def _pending_forever(api: TestClient, p: Pipeline, fake: FakeGiftVendor) -> tuple[dict[str, str], int]:
    """A player's redemption of GIFT-10 the vendor answers PENDING, forever."""
    fake.pending_polls["GIFT-10"] = 10**6
    player, _ = _player(api)
    rid = _redeem(api, player, "GIFT-10")
    assert run_sagas(p) == 1
    assert redemption(p, rid)["vendor_state"] == "PENDING"
    assert inventory(p, "GIFT-10") == (5, 1, 0)
    assert _balance(api, player) == (START, 400)
    return player, rid


def test_refund_on_a_pending_answer_needs_force_then_gives_stock_and_points_back(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, admin: tuple[dict[str, str], int]
) -> None:
    """PENDING leaves the outcome open (the vendor may still issue a code): the operator
    must say so (force) to end it anyway."""
    p = pipeline
    auth, admin_id = admin
    assert api.post(INVENTORY, json=_item(stock=5), headers=auth).status_code == 200
    player, rid = _pending_forever(api, p, fake)
    key = vendor_key(p, rid)

    r = _refund(api, auth, rid, "vendor lost the order")
    assert r.status_code == 409 and error_code(r) == "REWARD_006", r.text
    assert r.json()["error"]["details"] == {"status": "RESERVED", "vendor_answer": "PENDING"}
    assert "force" in r.json()["error"]["message"]
    assert fake.count("GET", key) == 1  # the vendor was asked first
    assert redemption(p, rid)["status"] == RedemptionStatus.RESERVED
    assert inventory(p, "GIFT-10") == (5, 1, 0) and _balance(api, player) == (START, 400)
    assert _audits(p, "rewards.redemption.refund") == []  # a refused refund leaves no row

    r = _refund(api, auth, rid, "vendor lost the order", force=True)
    assert r.status_code == 200, r.text
    out = r.json()["data"]
    assert out["status"] == "FAILED" and out["code"] is None
    assert out["failure_reason"] == "refunded by an operator: vendor lost the order"
    assert fake.count("GET", key) == 2  # asked again, still PENDING
    assert inventory(p, "GIFT-10") == (5, 0, 0)
    assert _balance(api, player) == (START, 0)
    assert _debits(p, rid) == []
    hold = _rows(p, "SELECT status::text AS s FROM crypto.points_holds WHERE ref_id = :r", r=str(rid))
    assert hold == [{"s": "CANCELLED"}]
    assert _audits(p, "rewards.redemption.refund") == [
        {"actor": f"user:{admin_id}", "actor_user_id": admin_id, "target": f"redemption:{rid}",
         "payload": {"reason": "vendor lost the order", "status_before": "RESERVED",
                     "vendor_answer": "PENDING", "force": True}}
    ]  # fmt: skip
    events = _rows(p, "SELECT payload FROM crypto.outbox WHERE topic = 'reward.failed'")
    assert [e["payload"]["redemption_id"] for e in events] == [rid]
    mine = api.get(f"/v1/rewards/redemptions/{rid}", headers=player).json()["data"]
    assert mine["status"] == "FAILED" and mine["failure_reason"] == out["failure_reason"]
    # Final now: the sweeper leaves it alone, a second refund is refused.
    assert sweep(p)["requeued"] == 0
    r = _refund(api, auth, rid, "vendor lost the order", force=True)
    assert r.status_code == 409 and error_code(r) == "REWARD_006"
    assert len(_audits(p, "rewards.redemption.refund")) == 1
    _integrity_ok(p)


def test_refund_with_no_answer_from_the_vendor_needs_force(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, auth: dict[str, str]
) -> None:
    p = pipeline
    assert api.post(INVENTORY, json=_item(stock=5), headers=auth).status_code == 200
    player, rid = _pending_forever(api, p, fake)
    fake.fail_gets = 100  # the vendor's look-up is down
    r = _refund(api, auth, rid, "vendor unreachable for days")
    assert r.status_code == 409 and error_code(r) == "REWARD_006", r.text
    answer = r.json()["error"]["details"]["vendor_answer"]
    assert answer == "no answer: VendorUnavailableError"
    assert (
        redemption(p, rid)["status"] == RedemptionStatus.RESERVED
        and _audits(p, "rewards.redemption.refund") == []
    )

    r = _refund(api, auth, rid, "vendor unreachable for days", force=True)
    assert r.status_code == 200 and r.json()["data"]["status"] == "FAILED", r.text
    (audit,) = _audits(p, "rewards.redemption.refund")
    assert audit["payload"]["vendor_answer"] == answer and audit["payload"]["force"] is True
    assert inventory(p, "GIFT-10") == (5, 0, 0) and _balance(api, player) == (START, 0)
    _integrity_ok(p)


def test_refund_is_refused_while_a_vendor_call_may_still_answer(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, admin: tuple[dict[str, str], int]
) -> None:
    """A worker recorded an issue call (its lease: the longest the call can take) and
    has not heard back: the answer may yet be a code, so no refund, forced or not, until
    the lease is over. Then the vendor, which has no order, is taken at its word."""
    p = pipeline
    auth, admin_id = admin
    assert api.post(INVENTORY, json=_item(stock=5), headers=auth).status_code == 200
    player, _ = _player(api)
    rid = _redeem(api, player, "GIFT-10")
    with p.session() as s:
        steps = RedemptionSteps(s, p.clock, p.settings)
        steps.hold(rid)
        steps.reserve(rid)
        steps.begin_vendor_call(rid)  # ... and the worker is still waiting for the answer
    lease = redemption(p, rid)["vendor_call_until"]
    assert isinstance(lease, datetime)
    assert lease == p.clock.now() + timedelta(seconds=p.settings.reward_vendor_call_budget_s)

    p.clock.advance(timedelta(seconds=p.settings.reward_vendor_call_budget_s - 1))
    for body in ({}, {"force": True}):
        r = _refund(api, auth, rid, "looks stuck", **body)
        assert r.status_code == 409 and error_code(r) == "REWARD_006", (body, r.text)
        assert r.json()["error"]["details"] == {"status": "RESERVED", "vendor_call_until": lease.isoformat()}
        assert "in flight" in r.json()["error"]["message"]
    assert fake.count("GET", vendor_key(p, rid)) == 2 and fake.orders == {}  # asked: no order (yet)
    assert redemption(p, rid)["status"] == RedemptionStatus.RESERVED
    assert inventory(p, "GIFT-10") == (5, 1, 0) and _balance(api, player) == (START, 400)
    assert _audits(p, "rewards.redemption.refund") == []

    p.clock.advance(timedelta(seconds=2))  # the lease is over: the call cannot answer any more
    r = _refund(api, auth, rid, "looks stuck")
    assert r.status_code == 200 and r.json()["data"]["status"] == "FAILED", r.text
    assert [a["payload"] for a in _audits(p, "rewards.redemption.refund")] == [
        {"reason": "looks stuck", "status_before": "RESERVED", "vendor_answer": "no order", "force": False}
    ]
    assert redemption(p, rid)["vendor_call_until"] is None
    assert inventory(p, "GIFT-10") == (5, 0, 0) and _balance(api, player) == (START, 0)
    assert run_sagas(p) == 1  # the saga's message finds it final
    assert fake.count("POST") == 0
    _integrity_ok(p)


def test_refund_is_refused_when_the_saga_moved_on_while_the_vendor_was_asked(
    api: TestClient,
    pipeline: Pipeline,
    fake: FakeGiftVendor,
    auth: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The vendor's answer is about the attempts made when it was asked: a saga step that
    made another call meanwhile (and heard back) makes it stale, even forced."""
    p = pipeline
    assert api.post(INVENTORY, json=_item(stock=5), headers=auth).status_code == 200
    player, rid = _pending_forever(api, p, fake)
    status = HttpRewardVendor.status

    def status_while_the_saga_moves_on(vendor: HttpRewardVendor, key: str) -> VendorOrder | None:
        answer = status(vendor, key)
        with p.session() as s:
            RedemptionSteps(s, p.clock, p.settings).begin_vendor_call(rid)
        with p.session() as s:
            RedemptionSteps(s, p.clock, p.settings).record_vendor_state(rid, "PENDING")
        return answer

    monkeypatch.setattr(HttpRewardVendor, "status", status_while_the_saga_moves_on)
    r = _refund(api, auth, rid, "looks stuck", force=True)
    assert r.status_code == 409 and error_code(r) == "REWARD_006", r.text
    assert r.json()["error"]["details"] == {"status": "RESERVED"}
    assert "moved on" in r.json()["error"]["message"]
    assert redemption(p, rid)["vendor_attempts"] == 2
    assert redemption(p, rid)["status"] == RedemptionStatus.RESERVED
    assert inventory(p, "GIFT-10") == (5, 1, 0) and _balance(api, player) == (START, 400)
    assert _audits(p, "rewards.redemption.refund") == []
    monkeypatch.undo()
    r = _refund(api, auth, rid, "looks stuck", force=True)  # asked again: the answer is current
    assert r.status_code == 200 and r.json()["data"]["status"] == "FAILED", r.text
    _integrity_ok(p)


def test_refund_when_the_vendor_reports_issued_completes_the_redemption_instead(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, admin: tuple[dict[str, str], int]
) -> None:
    p = pipeline
    auth, admin_id = admin
    assert api.post(INVENTORY, json=_item(stock=5), headers=auth).status_code == 200
    fake.pending_polls["GIFT-10"] = 1  # PENDING when placed, ISSUED on the next look-up
    player, _ = _player(api)
    rid = _redeem(api, player, "GIFT-10")
    assert run_sagas(p) == 1
    assert redemption(p, rid)["vendor_state"] == "PENDING"

    r = _refund(api, auth, rid, "it looks stuck", force=True)  # even forced: a code is never refunded
    assert r.status_code == 409 and error_code(r) == "REWARD_006"
    assert r.json()["error"]["details"] == {"status": "ISSUED", "vendor_answer": "ISSUED"}
    code = vendor_code(vendor_key(p, rid))
    assert code not in r.text
    mine = api.get(f"/v1/rewards/redemptions/{rid}", headers=player).json()["data"]
    assert mine["status"] == "ISSUED" and mine["code"] == code
    assert _balance(api, player) == (START - 400, 0)
    assert _debits(p, rid) == [-400]
    assert inventory(p, "GIFT-10") == (5, 0, 1)
    # Nothing was refunded, but the operator's attempt and what came of it are on record.
    audits = _audits(p, "rewards.redemption.refund")
    assert audits == [
        {"actor": f"user:{admin_id}", "actor_user_id": admin_id, "target": f"redemption:{rid}",
         "payload": {"reason": "it looks stuck", "outcome": "not refunded: the vendor issued it (ISSUED)"}}
    ]  # fmt: skip
    assert code not in str(audits)
    _integrity_ok(p)


def test_refund_of_a_refunded_redemption_the_vendor_issued_since_reports_it_failed(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, auth: dict[str, str]
) -> None:
    """Force-refunded while the vendor said PENDING, then the vendor issued the order
    anyway: a second refund is REWARD_006 for what the redemption is, FAILED (it was not
    completed), without asking the vendor (only a redemption in flight is asked about)."""
    p = pipeline
    assert api.post(INVENTORY, json=_item(), headers=auth).status_code == 200
    fake.pending_polls["GIFT-10"] = 2  # PENDING when placed and on the first look-up, then ISSUED
    player, _ = _player(api)
    rid = _redeem(api, player, "GIFT-10")
    assert run_sagas(p) == 1
    r = _refund(api, auth, rid, "vendor lost the order", force=True)
    assert r.status_code == 200 and r.json()["data"]["status"] == "FAILED", r.text
    key = vendor_key(p, rid)
    assert fake.count("GET", key) == 1

    r = _refund(api, auth, rid, "vendor lost the order", force=True)
    assert r.status_code == 409 and error_code(r) == "REWARD_006"
    assert redemption(p, rid)["status"] == RedemptionStatus.FAILED
    assert r.json()["error"]["details"]["status"] == "FAILED", r.text
    assert "completed" not in r.json()["error"]["message"]
    assert fake.count("GET", key) == 1  # final: the vendor is not asked
    assert _balance(api, player) == (START, 0) and _debits(p, rid) == []
    assert len(_audits(p, "rewards.redemption.refund")) == 1
    _integrity_ok(p)


def test_refund_of_a_final_redemption_is_reward_006(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, auth: dict[str, str]
) -> None:
    p = pipeline
    assert api.post(INVENTORY, json=_item(), headers=auth).status_code == 200
    player, _ = _player(api)
    issued = _redeem(api, player, "GIFT-10")
    assert run_sagas(p) == 1
    _, _, failed = _failed_redemption(api, p, fake, "GIFT-10")
    for rid, status in ((issued, "ISSUED"), (failed, "FAILED")):
        r = api.post(f"{REDEMPTIONS}/{rid}/refund", json={"reason": "please refund"}, headers=auth)
        assert r.status_code == 409 and error_code(r) == "REWARD_006", (status, r.text)
        assert r.json()["error"]["details"]["status"] == status
    assert redemption(p, issued)["status"] == RedemptionStatus.ISSUED
    assert _balance(api, player) == (START - 400, 0)
    r = api.post(f"{REDEMPTIONS}/999999/refund", json={"reason": "please refund"}, headers=auth)
    assert r.status_code == 404 and error_code(r) == "REWARD_404"
    assert _audits(p, "rewards.redemption.refund") == []
    _integrity_ok(p)


def test_refund_before_the_vendor_was_asked_does_not_ask_it(
    api: TestClient, pipeline: Pipeline, fake: FakeGiftVendor, auth: dict[str, str]
) -> None:
    p = pipeline
    assert api.post(INVENTORY, json=_item(), headers=auth).status_code == 200
    player, _ = _player(api)
    rid = _redeem(api, player, "GIFT-10")  # REQUESTED: its saga has not run
    r = api.post(f"{REDEMPTIONS}/{rid}/refund", json={"reason": "player asked support"}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "FAILED"
    assert [a["payload"] for a in _audits(p, "rewards.redemption.refund")] == [
        {
            "reason": "player asked support",
            "status_before": "REQUESTED",
            "vendor_answer": None,
            "force": False,
        }
    ]
    assert run_sagas(p) == 1  # the saga's message finds it final
    assert fake.requests == []
    assert inventory(p, "GIFT-10") == (5, 0, 0) and _balance(api, player) == (START, 0)
    _integrity_ok(p)


def test_a_player_token_is_refused(api: TestClient, pipeline: Pipeline) -> None:
    player, _ = _player(api)
    for method, path, body in (
        ("GET", INVENTORY, None),
        ("POST", INVENTORY, _item()),
        ("POST", f"{REDEMPTIONS}/1/refund", {"reason": "mine please"}),
    ):
        r = api.request(method, path, json=body, headers=player)
        assert r.status_code == 403, (method, path, r.text)
    assert _audits(pipeline, "rewards.inventory.upsert") == []
