"""Redeeming points for a gift code, through the whole path a player uses: HTTP redeem
-> outbox -> relay -> SQS -> saga worker -> ISSUED, and every rule of SPEC §5 Rewards
on the way (points, stock, inactive SKUs, the monthly cap, cancellation, ownership)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from myapi.providers.rewards import sandbox_code
from myapi.rewards.service import RedemptionSteps
from tests.support.db import failed_checks
from tests.support.http import bearer, dev_login, error_code
from tests.support.pipeline import Pipeline
from tests.support.rewards import add_reward, inventory, redemption, run_sagas, vendor_key


def _player(api: TestClient, email: str = "redeemer@example.com") -> tuple[dict[str, str], int]:
    login = dev_login(api, email)
    return bearer(login["access_token"]), int(login["user"]["id"])


def _redeem(api: TestClient, auth: dict[str, str], sku: str, **headers: str) -> Any:
    return api.post("/v1/rewards/redeem", json={"sku": sku}, headers={**auth, **headers})


def _integrity_ok(p: Pipeline) -> None:
    with p.session() as s:
        assert failed_checks(s, p.clock.now()) == {}


def test_happy_path_issues_a_code_debits_once_and_moves_stock_to_issued(
    api: TestClient, pipeline: Pipeline
) -> None:
    p = pipeline
    with p.session() as s:
        add_reward(s, "COFFEE", cost=400, stock=3)
    auth, user_id = _player(api)
    r = _redeem(api, auth, "coffee")
    assert r.status_code == 202, r.text
    accepted = r.json()["data"]
    assert accepted["status"] == "REQUESTED"
    rid = accepted["redemption_id"]
    # Promised but not spent: the catalog still shows the unit until the saga reserves it.
    assert run_sagas(p) >= 1

    mine = api.get(f"/v1/rewards/redemptions/{rid}", headers=auth).json()["data"]
    assert mine["status"] == "ISSUED"
    # The sandbox's code for the redemption's vendor key (a UUID of its own, not the id).
    assert mine["code"] == sandbox_code(vendor_key(p, rid), "COFFEE")
    assert vendor_key(p, rid) != str(rid)
    assert mine["title"] == "COFFEE gift code" and mine["cost_points"] == 400
    balance = api.get("/v1/points/balance", headers=auth).json()["data"]
    assert balance["balance"] == 600
    assert inventory(p, "COFFEE") == (3, 0, 1)
    catalog = {i["sku"]: i for i in api.get("/v1/rewards/catalog").json()["data"]}
    assert catalog["COFFEE"]["available"] == 2
    ledger = p.scalar(
        "SELECT count(*) FROM crypto.points_ledger WHERE ref_type = 'REDEEM' AND ref_id = :r AND "
        "delta_points = -400 AND user_id = :u",
        r=str(rid), u=user_id,
    )  # fmt: skip
    assert ledger == 1
    assert (
        p.scalar("SELECT status::text FROM crypto.points_holds WHERE ref_id = :r", r=str(rid)) == "COMMITTED"
    )
    assert p.scalar("SELECT count(*) FROM crypto.outbox WHERE topic = 'reward.issued'") == 1
    issued_event = p.scalar("SELECT payload::text FROM crypto.outbox WHERE topic = 'reward.issued'")
    assert mine["code"] not in str(issued_event)
    _integrity_ok(p)


def _status(api: TestClient, auth: dict[str, str], rid: int) -> str:
    return str(api.get(f"/v1/rewards/redemptions/{rid}", headers=auth).json()["data"]["status"])


def _balance(api: TestClient, auth: dict[str, str]) -> dict[str, int]:
    data: dict[str, int] = api.get("/v1/points/balance", headers=auth).json()["data"]
    return data


def _nothing_written(p: Pipeline) -> None:
    assert p.scalar("SELECT count(*) FROM crypto.rewards_redemptions") == 0
    assert p.scalar("SELECT count(*) FROM crypto.outbox WHERE topic LIKE 'reward.%'") == 0


def test_insufficient_points_is_POINT_001_and_writes_nothing(api: TestClient, pipeline: Pipeline) -> None:
    with pipeline.session() as s:
        add_reward(s, "MOVIE", cost=3000)
    auth, _ = _player(api)
    r = _redeem(api, auth, "MOVIE")
    assert r.status_code == 409 and error_code(r) == "POINT_001"
    assert r.json()["error"]["details"] == {"balance": 1000, "available": 1000, "required": 3000}
    _nothing_written(pipeline)


def test_points_promised_to_a_redemption_in_flight_are_not_spendable_twice(
    api: TestClient, pipeline: Pipeline
) -> None:
    p = pipeline
    with p.session() as s:
        add_reward(s, "VOUCHER", cost=600)
    auth, _ = _player(api)
    assert _redeem(api, auth, "VOUCHER").status_code == 202
    # Not held yet (the saga has not run), but promised: 400 left to promise.
    r = _redeem(api, auth, "VOUCHER")
    assert r.status_code == 409 and error_code(r) == "POINT_001"
    assert r.json()["error"]["details"]["available"] == 400
    run_sagas(p)
    assert _balance(api, auth)["balance"] == 400
    _integrity_ok(p)


def test_points_taken_away_before_the_hold_fail_the_saga_with_nothing_spent(
    api: TestClient, pipeline: Pipeline
) -> None:
    p = pipeline
    with p.session() as s:
        add_reward(s, "VOUCHER", cost=600, stock=5)
    auth, user_id = _player(api)
    rid = _redeem(api, auth, "VOUCHER").json()["data"]["redemption_id"]
    admin = bearer(dev_login(api, "admin.rw@example.com", role="ADMIN")["access_token"])
    r = api.post(
        f"/admin/users/{user_id}/adjust-points", json={"delta": -500, "reason": "clawback"}, headers=admin
    )
    assert r.status_code == 200, r.text
    run_sagas(p)
    row = redemption(p, rid)
    assert (row["status"], row["failure_reason"]) == ("FAILED", "insufficient points")
    assert _balance(api, auth)["balance"] == 500
    assert inventory(p, "VOUCHER") == (5, 0, 0)
    assert p.scalar("SELECT count(*) FROM crypto.points_holds") == 0
    assert p.scalar("SELECT count(*) FROM crypto.outbox WHERE topic = 'reward.failed'") == 1
    _integrity_ok(p)


def test_a_held_point_cannot_be_taken_away_by_an_adjustment(api: TestClient, pipeline: Pipeline) -> None:
    p = pipeline
    with p.session() as s:
        add_reward(s, "VOUCHER", cost=600)
    auth, user_id = _player(api)
    rid = _redeem(api, auth, "VOUCHER").json()["data"]["redemption_id"]
    with p.session() as s:
        RedemptionSteps(s, p.clock, p.settings).hold(rid)
    assert _balance(api, auth) == {"user_id": user_id, "balance": 1000, "held": 600, "available": 400}
    admin = bearer(dev_login(api, "admin.hold@example.com", role="ADMIN")["access_token"])
    r = api.post(
        f"/admin/users/{user_id}/adjust-points", json={"delta": -500, "reason": "clawback"}, headers=admin
    )
    assert r.status_code == 409 and error_code(r) == "POINT_001"
    assert r.json()["error"]["details"] == {"balance": 1000, "held": 600, "required": 500}
    run_sagas(p)
    assert redemption(p, rid)["status"] == "ISSUED"
    assert _balance(api, auth)["balance"] == 400
    _integrity_ok(p)


def test_out_of_stock_is_REWARD_001_and_the_last_unit_goes_to_one_saga(
    api: TestClient, pipeline: Pipeline
) -> None:
    p = pipeline
    with p.session() as s:
        add_reward(s, "LAST", cost=100, stock=1)
        add_reward(s, "NONE", cost=100, stock=0)
    auth, _ = _player(api)
    r = _redeem(api, auth, "NONE")
    assert r.status_code == 409 and error_code(r) == "REWARD_001"
    # Both accepted while the unit looks available; the saga's reservation is exact.
    first = _redeem(api, auth, "LAST").json()["data"]["redemption_id"]
    other_auth, _ = _player(api, "second@example.com")
    second = _redeem(api, other_auth, "LAST").json()["data"]["redemption_id"]
    run_sagas(p)
    assert (redemption(p, first)["status"], redemption(p, second)["status"]) == ("ISSUED", "FAILED")
    assert redemption(p, second)["failure_reason"] == "out of stock"
    assert _balance(api, other_auth)["balance"] == 1000
    assert inventory(p, "LAST") == (1, 0, 1)
    r = _redeem(api, auth, "LAST")
    assert r.status_code == 409 and error_code(r) == "REWARD_001"
    assert {i["sku"]: i["available"] for i in api.get("/v1/rewards/catalog").json()["data"]}["LAST"] == 0
    _integrity_ok(p)


@pytest.mark.parametrize("sku", ["GONE", "NO-SUCH-SKU"])
def test_inactive_or_unknown_sku_is_REWARD_003(api: TestClient, pipeline: Pipeline, sku: str) -> None:
    with pipeline.session() as s:
        add_reward(s, "GONE", active=False)
    auth, _ = _player(api)
    r = _redeem(api, auth, sku)
    assert r.status_code == 404 and error_code(r) == "REWARD_003"
    assert "GONE" not in {i["sku"] for i in api.get("/v1/rewards/catalog").json()["data"]}
    _nothing_written(pipeline)


@pytest.mark.parametrize(
    "body", [{}, {"sku": ""}, {"sku": "a b"}, {"sku": "X" * 65}, {"sku": 5}, {"sku": "A", "x": 1}]
)
def test_malformed_redeem_bodies_are_422(
    api: TestClient, pipeline: Pipeline, body: dict[str, object]
) -> None:
    auth, _ = _player(api)
    r = api.post("/v1/rewards/redeem", json=body, headers=auth)
    assert r.status_code == 422 and error_code(r) == "SYS_422"
    _nothing_written(pipeline)


def test_a_sku_deactivated_while_in_flight_fails_the_saga_with_everything_back(
    api: TestClient, pipeline: Pipeline
) -> None:
    p = pipeline
    with p.session() as s:
        add_reward(s, "SEASONAL", cost=300, stock=4)
    auth, _ = _player(api)
    rid = _redeem(api, auth, "SEASONAL").json()["data"]["redemption_id"]
    admin = bearer(dev_login(api, "admin.deact@example.com", role="ADMIN")["access_token"])
    r = api.post(
        "/admin/rewards/inventory/SEASONAL/deactivate", json={"reason": "season over"}, headers=admin
    )
    assert r.status_code == 200, r.text
    run_sagas(p)
    row = redemption(p, rid)
    assert (row["status"], row["failure_reason"]) == ("FAILED", "reward no longer available")
    assert _balance(api, auth)["balance"] == 1000
    assert inventory(p, "SEASONAL") == (4, 0, 0)
    _integrity_ok(p)


def test_monthly_cap_counts_the_kst_month_and_not_cancelled_ones(api: TestClient, pipeline: Pipeline) -> None:
    p = pipeline
    cap = p.settings.reward_monthly_cap
    with p.session() as s:
        add_reward(s, "GUM", cost=10, stock=100)
    # 23:59:59 KST on the last day of November.
    p.clock.set(datetime(2026, 11, 30, 14, 59, 59, tzinfo=UTC))
    auth, _ = _player(api)
    ids = [_redeem(api, auth, "GUM").json()["data"]["redemption_id"] for _ in range(cap)]
    r = _redeem(api, auth, "GUM")
    assert r.status_code == 409 and error_code(r) == "REWARD_002"
    assert r.json()["error"]["details"] == {"cap": cap, "this_month": cap}
    # A cancelled redemption gives its place back.
    assert api.post(f"/v1/rewards/redemptions/{ids[0]}/cancel", headers=auth).status_code == 200
    assert _redeem(api, auth, "GUM").status_code == 202
    assert error_code(_redeem(api, auth, "GUM")) == "REWARD_002"
    # Midnight KST: a new month, a new allowance.
    p.clock.set(datetime(2026, 11, 30, 15, 0, 0, tzinfo=UTC))
    assert _redeem(api, auth, "GUM").status_code == 202
    run_sagas(p)
    assert p.scalar("SELECT count(*) FROM crypto.rewards_redemptions WHERE status = 'ISSUED'") == cap + 1
    _integrity_ok(p)


def test_cancel_before_issue_gives_everything_back_and_after_issue_is_REWARD_004(
    api: TestClient, pipeline: Pipeline
) -> None:
    p = pipeline
    with p.session() as s:
        add_reward(s, "COFFEE", cost=200, stock=5)
    auth, _ = _player(api)
    # Cancelled while REQUESTED: the saga's message later finds it final and does nothing.
    requested = _redeem(api, auth, "COFFEE").json()["data"]["redemption_id"]
    r = api.post(f"/v1/rewards/redemptions/{requested}/cancel", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "CANCELLED"
    # Cancelled while RESERVED (hold placed, stock reserved): both are given back.
    reserved = _redeem(api, auth, "COFFEE").json()["data"]["redemption_id"]
    with p.session() as s:
        steps = RedemptionSteps(s, p.clock, p.settings)
        steps.hold(reserved)
        steps.reserve(reserved)
    assert inventory(p, "COFFEE") == (5, 1, 0)
    assert _balance(api, auth)["held"] == 200
    r = api.post(f"/v1/rewards/redemptions/{reserved}/cancel", headers=auth)
    assert r.status_code == 200 and r.json()["data"]["status"] == "CANCELLED"
    assert inventory(p, "COFFEE") == (5, 0, 0)
    assert _balance(api, auth) == {**_balance(api, auth), "balance": 1000, "held": 0}
    run_sagas(p)
    assert [redemption(p, i)["status"] for i in (requested, reserved)] == ["CANCELLED", "CANCELLED"]
    assert p.scalar("SELECT count(*) FROM crypto.points_holds WHERE status = 'OPEN'") == 0
    # An issued one cannot be cancelled, nor a cancelled one again.
    issued = _redeem(api, auth, "COFFEE").json()["data"]["redemption_id"]
    run_sagas(p)
    for rid, status in ((issued, "ISSUED"), (requested, "CANCELLED")):
        r = api.post(f"/v1/rewards/redemptions/{rid}/cancel", headers=auth)
        assert r.status_code == 409 and error_code(r) == "REWARD_004"
        assert r.json()["error"]["details"]["status"] == status
    assert _balance(api, auth)["balance"] == 800
    _integrity_ok(p)


def test_a_player_sees_and_cancels_only_their_own_redemptions(api: TestClient, pipeline: Pipeline) -> None:
    p = pipeline
    with p.session() as s:
        add_reward(s, "COFFEE", cost=100)
    owner, _ = _player(api, "owner@example.com")
    other, _ = _player(api, "other@example.com")
    rid = _redeem(api, owner, "COFFEE").json()["data"]["redemption_id"]
    run_sagas(p)
    for method, path in (
        ("GET", f"/v1/rewards/redemptions/{rid}"),
        ("POST", f"/v1/rewards/redemptions/{rid}/cancel"),
    ):
        r = api.request(method, path, headers=other)
        assert r.status_code == 404 and error_code(r) == "REWARD_404", (method, path)
        assert "code" not in r.text.lower().replace('"code":"reward_404"', "")
        r = api.request(method, path)
        assert r.status_code == 401
    assert api.get("/v1/rewards/redemptions", headers=other).json()["data"] == []
    assert redemption(p, rid)["status"] == "ISSUED"
    r = api.get("/v1/rewards/redemptions/999999", headers=owner)
    assert r.status_code == 404 and error_code(r) == "REWARD_404"


def test_my_redemptions_are_paginated_newest_first(api: TestClient, pipeline: Pipeline) -> None:
    p = pipeline
    with p.session() as s:
        add_reward(s, "GUM", cost=10)
    auth, _ = _player(api)
    ids = [_redeem(api, auth, "GUM").json()["data"]["redemption_id"] for _ in range(3)]
    run_sagas(p)
    r = api.get("/v1/rewards/redemptions", params={"limit": 2}, headers=auth).json()
    assert [x["id"] for x in r["data"]] == ids[::-1][:2]
    assert (r["meta"]["total"], r["meta"]["limit"], r["meta"]["offset"]) == (3, 2, 0)
    page2 = api.get("/v1/rewards/redemptions", params={"limit": 2, "offset": 2}, headers=auth).json()
    assert [x["id"] for x in page2["data"]] == [ids[0]]
    assert all(x["status"] == "ISSUED" and x["code"] for x in r["data"])


def test_idempotency_key_replays_the_redemption_instead_of_making_another(
    api: TestClient, pipeline: Pipeline
) -> None:
    p = pipeline
    with p.session() as s:
        add_reward(s, "COFFEE", cost=100)
    auth, _ = _player(api)
    first = _redeem(api, auth, "COFFEE", **{"Idempotency-Key": "redeem-1"})
    again = _redeem(api, auth, "COFFEE", **{"Idempotency-Key": "redeem-1"})
    assert first.status_code == again.status_code == 202
    assert first.json()["data"] == again.json()["data"]
    reused = _redeem(api, auth, "coffee", **{"Idempotency-Key": "redeem-1"})
    assert reused.status_code == 422 and error_code(reused) == "IDEM_003"
    assert p.scalar("SELECT count(*) FROM crypto.rewards_redemptions") == 1
    other = _redeem(api, auth, "COFFEE", **{"Idempotency-Key": "redeem-2"})
    assert other.json()["data"]["redemption_id"] != first.json()["data"]["redemption_id"]
    run_sagas(p)
    assert _balance(api, auth)["balance"] == 800
    _integrity_ok(p)


def test_the_cost_is_the_catalogs_cost_at_redeem_time(api: TestClient, pipeline: Pipeline) -> None:
    p = pipeline
    with p.session() as s:
        add_reward(s, "COFFEE", cost=100)
    auth, _ = _player(api)
    rid = _redeem(api, auth, "COFFEE").json()["data"]["redemption_id"]
    with p.engine.begin() as conn:
        conn.execute(text("UPDATE crypto.rewards_inventory SET cost_points = 700 WHERE sku = 'COFFEE'"))
    run_sagas(p)
    assert redemption(p, rid)["cost_points"] == 100
    assert _balance(api, auth)["balance"] == 900
    _integrity_ok(p)
