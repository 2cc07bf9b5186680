"""/admin/integrity: every ledger and game invariant, with the offending rows."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.support.http import bearer, dev_login


def test_integrity_passes_on_a_clean_state(client: TestClient) -> None:
    admin = dev_login(client, "integrity.admin@example.com", role="ADMIN")
    dev_login(client, "integrity.player@example.com")
    r = client.get("/admin/integrity", headers=bearer(admin["access_token"]))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["passed"] is True
    names = {c["name"] for c in data["checks"]}
    assert {"balance_equals_ledger_sum", "balance_equals_latest_balance_after"} <= names
    assert all(c["passed"] and c["offending"] == [] for c in data["checks"])


def test_integrity_reports_a_corrupted_balance_with_the_offending_user(
    client: TestClient, db: Session
) -> None:
    admin = dev_login(client, "integrity.admin2@example.com", role="ADMIN")
    player = dev_login(client, "integrity.victim@example.com")
    victim = player["user"]["id"]
    db.execute(
        text("UPDATE crypto.point_balances SET balance = balance + 1 WHERE user_id = :u"), {"u": victim}
    )
    db.flush()
    r = client.get("/admin/integrity", headers=bearer(admin["access_token"]))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["passed"] is False
    checks = {c["name"]: c for c in data["checks"]}
    ledger_sum = checks["balance_equals_ledger_sum"]
    assert ledger_sum["passed"] is False
    [row] = ledger_sum["offending"]
    # sum() of a bigint is numeric in PostgreSQL, so ledger_sum arrives as a decimal string.
    assert (row["user_id"], row["balance"], int(row["ledger_sum"])) == (victim, 1001, 1000)
    assert [o["user_id"] for o in checks["balance_equals_latest_balance_after"]["offending"]] == [victim]
    assert checks["inventory_within_stock"]["passed"] is True


def test_integrity_is_admin_only(client: TestClient) -> None:
    player = dev_login(client, "integrity.nosy@example.com")
    assert client.get("/admin/integrity", headers=bearer(player["access_token"])).status_code == 403
    assert client.get("/admin/integrity").status_code == 401
