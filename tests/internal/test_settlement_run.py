"""/internal/settlement/run: settles a closed day once, reports, refuses an open one."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from tests.support.days import AFTER_CLOSE
from tests.support.db import balance_of, count, failed_checks, statuses
from tests.support.http import bearer, dev_login, error_code, internal


def test_internal_settlement_run_settles_once_and_reports(
    client: TestClient,
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    settled_scenario: tuple[int, int],
) -> None:
    up, down = settled_scenario
    clock.set(AFTER_CLOSE)
    r = client.post(
        "/internal/settlement/run", json={"trading_day": "2026-11-23"}, headers=internal(settings)
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["job"], data["status"]) == ("settlement.run", "SUCCEEDED")
    details = data["details"]
    assert details["trading_day"] == "2026-11-23"
    assert details["symbols_settled"] == 4
    assert details["predictions_changed"] == 6
    assert (details["ledger_entries"], details["players_credited"]) == (2, 2)
    assert details["counts"] == {
        "correct": 2,
        "incorrect": 2,
        "void": 2,
        "pending": 0,
        "cancelled": 0,
        "points": 100,
    }
    assert statuses(db, up)["AAPL"] == ("CORRECT", 50, None)
    assert statuses(db, down)["MSFT"] == ("CORRECT", 50, None)
    assert statuses(db, up)["NVDA"] == ("VOID", 0, "FLAT")
    assert [balance_of(db, up), balance_of(db, down)] == [1050, 1050]

    again = client.post(
        "/internal/settlement/run", json={"trading_day": "2026-11-23"}, headers=internal(settings)
    )
    assert again.status_code == 200, again.text
    assert again.json()["data"]["details"]["symbols_settled"] == 0
    assert [balance_of(db, up), balance_of(db, down)] == [1050, 1050]
    assert count(db, "SELECT count(*) FROM crypto.points_ledger WHERE ref_type = 'SETTLEMENT'") == 2
    assert failed_checks(db) == {}


def test_settlement_run_before_the_cutoff_is_SETTLE_001_and_recorded_as_failed(
    client: TestClient, db: Session, clock: FrozenClock, settings: Settings, settled_scenario: tuple[int, int]
) -> None:
    up, _down = settled_scenario
    r = client.post(
        "/internal/settlement/run", json={"trading_day": "2026-11-23"}, headers=internal(settings)
    )
    assert r.status_code == 409, r.text
    assert error_code(r) == "SETTLE_001"
    assert statuses(db, up)["AAPL"][0] == "PENDING"
    assert count(db, "SELECT count(*) FROM crypto.settlements") == 0
    admin = dev_login(client, "settle.jobs@example.com", role="ADMIN")
    jobs = client.get(
        "/admin/jobs", params={"job": "settlement.run"}, headers=bearer(admin["access_token"])
    ).json()["data"]
    assert [(j["job"], j["status"]) for j in jobs] == [("settlement.run", "FAILED")]
    assert "SETTLE_001" in jobs[0]["error"]


def test_internal_routes_need_the_internal_token(client: TestClient) -> None:
    r = client.post("/internal/settlement/run", json={"trading_day": "2026-11-23"})
    assert r.status_code == 401
    r = client.post(
        "/internal/settlement/run", json={"trading_day": "2026-11-23"}, headers={"X-Internal-Token": "wrong"}
    )
    assert r.status_code == 403
