"""The integrity checks on holds, inventory and redemptions can fail: each test puts the
database in one broken state (as a bug or a hand edit would) and the check names it,
while every other check still passes. Runs in the rolled-back `db` transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.support.db import failed_checks
from tests.support.factories import make_user
from tests.support.http import bearer, dev_login
from tests.support.rewards import add_reward

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def _sql(db: Session, sql: str, **params: object) -> int | None:
    row = db.execute(text(sql), params).first()
    return int(row[0]) if row is not None and row[0] is not None else None


def _redemption(
    db: Session, user_id: int, sku: str, status: str, *, code: str | None = None, cost: int = 100
) -> int:
    rid = _sql(
        db,
        "INSERT INTO crypto.rewards_redemptions (user_id, sku, cost_points, vendor, status, vendor_code) "
        "VALUES (:u, :s, :c, 'sandbox', CAST(:st AS crypto.redemption_status), :code) RETURNING id",
        u=user_id, s=sku, c=cost, st=status, code=code,
    )  # fmt: skip
    assert rid is not None
    return rid


def _hold(
    db: Session, user_id: int, ref_id: str, amount: int, status: str = "OPEN", *, expires: datetime
) -> None:
    db.execute(
        text(
            "INSERT INTO crypto.points_holds (user_id, amount, ref_type, ref_id, status, expires_at) "
            "VALUES (:u, :a, 'REDEEM', :r, CAST(:st AS crypto.hold_status), :e)"
        ),
        {"u": user_id, "a": amount, "r": ref_id, "st": status, "e": expires},
    )


def _debit(db: Session, user_id: int, ref_id: str, amount: int) -> None:
    """A REDEEM debit, with the balance moved too (so the ledger checks still pass)."""
    db.execute(
        text(
            "INSERT INTO crypto.points_ledger "
            "(user_id, delta_points, reason, ref_type, ref_id, balance_after) "
            "SELECT :u, -:a, 'reward_redemption', 'REDEEM', :r, balance - :a "
            "FROM crypto.point_balances WHERE user_id = :u"
        ),
        {"u": user_id, "a": amount, "r": ref_id},
    )
    db.execute(
        text("UPDATE crypto.point_balances SET balance = balance - :a WHERE user_id = :u"),
        {"u": user_id, "a": amount},
    )


def _only(db: Session, name: str) -> list[dict[str, object]]:
    failed = failed_checks(db, NOW)
    assert set(failed) == {name}, failed
    return failed[name]


def test_open_holds_above_the_balance_fail(db: Session) -> None:
    user = make_user(db, "holds@example.com", balance=100)
    add_reward(db, "COFFEE")
    rid = _redemption(db, user, "COFFEE", "REQUESTED", cost=150)
    _hold(db, user, str(rid), 150, expires=NOW + timedelta(minutes=5))
    (row,) = _only(db, "open_holds_within_balance")
    assert (row["user_id"], row["held"], row["balance"]) == (user, 150, 100)


def test_reserved_plus_issued_above_stock_fails(db: Session) -> None:
    # The table's CHECK makes this impossible through SQL; drop it inside this rolled-back
    # transaction to prove the check reads what it claims.
    db.execute(
        text("ALTER TABLE crypto.rewards_inventory DROP CONSTRAINT ck_rewards_inventory_counts_within_stock")
    )
    add_reward(db, "OVERSOLD", stock=1)
    user = make_user(db, "oversold@example.com")
    for status in ("RESERVED", "ISSUED"):
        rid = _redemption(db, user, "OVERSOLD", status, code="X" if status == "ISSUED" else None)
        _hold(
            db,
            user,
            str(rid),
            100,
            "OPEN" if status == "RESERVED" else "COMMITTED",
            expires=NOW + timedelta(minutes=5),
        )
        if status == "ISSUED":
            _debit(db, user, str(rid), 100)
    db.execute(text("UPDATE crypto.rewards_inventory SET reserved = 1, issued = 1 WHERE sku = 'OVERSOLD'"))
    (row,) = _only(db, "inventory_within_stock")
    assert (row["sku"], row["stock"], row["reserved"], row["issued"]) == ("OVERSOLD", 1, 1, 1)


def test_counters_that_drift_from_the_redemptions_fail(db: Session) -> None:
    add_reward(db, "DRIFT", stock=5)
    db.execute(text("UPDATE crypto.rewards_inventory SET reserved = 2 WHERE sku = 'DRIFT'"))
    (row,) = _only(db, "inventory_counts_match_redemptions")
    assert (row["sku"], row["reserved"], row["reserved_redemptions"]) == ("DRIFT", 2, 0)


def test_an_issued_redemption_without_its_debit_or_committed_hold_fails(db: Session) -> None:
    user = make_user(db, "issued@example.com")
    add_reward(db, "COFFEE", stock=5)
    db.execute(text("UPDATE crypto.rewards_inventory SET issued = 2 WHERE sku = 'COFFEE'"))
    no_debit = _redemption(db, user, "COFFEE", "ISSUED", code="A")
    _hold(db, user, str(no_debit), 100, "COMMITTED", expires=NOW)
    twice = _redemption(db, user, "COFFEE", "ISSUED", code="B")
    _hold(db, user, str(twice), 100, "COMMITTED", expires=NOW)
    _debit(db, user, str(twice), 100)
    db.execute(
        text("UPDATE crypto.points_ledger SET delta_points = -50 WHERE ref_type = 'REDEEM' AND ref_id = :r"),
        {"r": str(twice)},
    )
    db.execute(
        text("UPDATE crypto.point_balances SET balance = balance + 50 WHERE user_id = :u"), {"u": user}
    )
    db.execute(
        text("UPDATE crypto.points_ledger SET balance_after = balance_after + 50 WHERE ref_id = :r"),
        {"r": str(twice)},
    )
    rows = _only(db, "issued_redemptions_debited_once")
    assert {(r["redemption_id"], r["debits"]) for r in rows} == {(no_debit, 0), (twice, 1)}


def test_a_debit_of_no_redemption_fails(db: Session) -> None:
    user = make_user(db, "orphan@example.com")
    _debit(db, user, "424242", 100)
    (row,) = _only(db, "issued_redemptions_debited_once")
    assert (row["status"], row["debits"]) == ("no redemption", 1)


def test_an_open_hold_past_its_expiry_fails(db: Session) -> None:
    user = make_user(db, "stuck@example.com")
    add_reward(db, "COFFEE")
    rid = _redemption(db, user, "COFFEE", "REQUESTED")
    _hold(db, user, str(rid), 100, expires=NOW - timedelta(seconds=1))
    (row,) = _only(db, "no_expired_open_hold")
    assert (row["ref_id"], row["amount"]) == (str(rid), 100)
    assert failed_checks(db, NOW - timedelta(seconds=2)) == {}


def test_a_failed_redemption_with_an_open_hold_or_a_debit_fails(db: Session) -> None:
    user = make_user(db, "failed@example.com")
    add_reward(db, "COFFEE")
    held = _redemption(db, user, "COFFEE", "FAILED")
    _hold(db, user, str(held), 100, expires=NOW + timedelta(minutes=5))
    debited = _redemption(db, user, "COFFEE", "CANCELLED")
    _debit(db, user, str(debited), 100)
    rows = _only(db, "final_redemptions_hold_nothing")
    assert {(r["redemption_id"], r["hold_status"], r["net_points"]) for r in rows} == {
        (held, "OPEN", 0),
        (debited, None, -100),
    }


def test_the_admin_endpoint_reports_a_rewards_failure(client: TestClient, db: Session) -> None:
    admin = dev_login(client, "integrity.rewards@example.com", role="ADMIN")
    add_reward(db, "DRIFT", stock=5)
    db.execute(text("UPDATE crypto.rewards_inventory SET issued = 1 WHERE sku = 'DRIFT'"))
    db.flush()
    data = client.get("/admin/integrity", headers=bearer(admin["access_token"])).json()["data"]
    assert data["passed"] is False
    failing = {c["name"]: c["offending"] for c in data["checks"] if not c["passed"]}
    assert list(failing) == ["inventory_counts_match_redemptions"]
    assert failing["inventory_counts_match_redemptions"][0]["sku"] == "DRIFT"


def test_a_redemption_in_flight_without_the_hold_its_state_needs_fails(db: Session) -> None:
    user = make_user(db, "unheld@example.com")
    add_reward(db, "COFFEE", stock=5)
    db.execute(text("UPDATE crypto.rewards_inventory SET reserved = 1 WHERE sku = 'COFFEE'"))
    unheld = _redemption(db, user, "COFFEE", "RESERVED")
    wrong_amount = _redemption(db, user, "COFFEE", "REQUESTED")
    _hold(db, user, str(wrong_amount), 99, expires=NOW + timedelta(minutes=5))
    _hold(db, user, "777777", 10, expires=NOW + timedelta(minutes=5))
    rows = _only(db, "redemption_holds_match")
    assert {(r["redemption_id"], r["status"], r["hold_status"]) for r in rows} == {
        (unheld, "RESERVED", None),
        (wrong_amount, "REQUESTED", "OPEN"),
        (None, "no redemption", "OPEN"),
    }
