"""Redeeming points for a gift code, through the whole path a player uses: HTTP redeem
-> outbox -> relay -> SQS -> saga worker -> ISSUED, and every rule of SPEC §5 Rewards
on the way (points, stock, inactive SKUs, the monthly cap, cancellation, ownership)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from myapi.providers.rewards import sandbox_code
from tests.support.db import failed_checks
from tests.support.http import bearer, dev_login
from tests.support.pipeline import Pipeline
from tests.support.rewards import add_reward, inventory, run_sagas


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
    assert mine["code"] == sandbox_code(str(rid), "COFFEE")
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
