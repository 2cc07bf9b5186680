"""What a settled day looks like: the admin summary and the public per-symbol view."""

from __future__ import annotations

from fastapi.testclient import TestClient

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from tests.support.days import AFTER_CLOSE
from tests.support.http import bearer, dev_login, error_code, internal


def test_admin_and_public_settlement_views(
    client: TestClient, clock: FrozenClock, settings: Settings, settled_scenario: tuple[int, int]
) -> None:
    clock.set(AFTER_CLOSE)
    assert (
        client.post(
            "/internal/settlement/run", json={"trading_day": "2026-11-23"}, headers=internal(settings)
        ).status_code
        == 200
    )
    admin = dev_login(client, "settle.admin@example.com", role="ADMIN")

    r = client.get("/admin/settlement/2026-11-23", headers=bearer(admin["access_token"]))
    assert r.status_code == 200, r.text
    summary = r.json()["data"]
    assert summary["trading_day"] == "2026-11-23"
    assert summary["settled_at"] == "2026-11-24T06:30:00+09:00"
    assert summary["counts"] == {"correct": 2, "incorrect": 2, "void": 2, "pending": 0, "cancelled": 0}
    assert summary["points_issued"] == 100
    assert summary["void_reasons"] == {"FLAT": 2}
    assert summary["symbols_by_outcome"] == {"UP": 1, "DOWN": 1, "VOID": 2}

    r = client.get("/v1/settlements/2026-11-23")  # public: no token
    assert r.status_code == 200, r.text
    day = r.json()["data"]
    assert day["trading_day"] == "2026-11-23" and day["settled_at"] == "2026-11-24T06:30:00+09:00"
    by_symbol = {s["symbol"]: s for s in day["symbols"]}
    assert [s["symbol"] for s in day["symbols"]] == ["AAPL", "AMZN", "MSFT", "NVDA"]
    aapl = by_symbol["AAPL"]
    assert (aapl["outcome"], aapl["close_price"], aapl["prev_close_price"]) == (
        "UP",
        "101.000000",
        "100.125000",
    )
    assert aapl["vendor_rev"] == 0 and aapl["void_reason"] is None
    assert (by_symbol["MSFT"]["outcome"], by_symbol["MSFT"]["close_price"]) == ("DOWN", "100.000000")
    assert (by_symbol["NVDA"]["outcome"], by_symbol["NVDA"]["void_reason"]) == ("VOID", "FLAT")
    amzn = by_symbol["AMZN"]
    assert (amzn["outcome"], amzn["close_price"], amzn["void_reason"]) == ("VOID", None, "EOD_MISSING")
    assert amzn["prev_close_price"] == "103.125000"


def test_an_unknown_day_is_SETTLE_404(client: TestClient, settings: Settings) -> None:
    admin = dev_login(client, "settle.admin404@example.com", role="ADMIN")
    r = client.get("/v1/settlements/2026-11-20")
    assert r.status_code == 404 and error_code(r) == "SETTLE_404"
    r = client.get("/admin/settlement/2026-11-20", headers=bearer(admin["access_token"]))
    assert r.status_code == 404 and error_code(r) == "SETTLE_404"
    r = client.post(
        "/internal/settlement/run", json={"trading_day": "2026-11-20"}, headers=internal(settings)
    )
    assert r.status_code == 404 and error_code(r) == "SETTLE_404"
