"""Corporate actions over HTTP: a symbol-day whose close looks like a split is held for
review while the rest of the day settles; the operator's SETTLE or VOID is applied by the
settlement itself, once, however often it is sent."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.core.clock import FrozenClock
from tests.corporate.conftest import closes
from tests.support.days import AFTER_CLOSE, DAY
from tests.support.db import balance_of, count, failed_checks, statuses
from tests.support.http import bearer, dev_login, error_code

RUN = f"/admin/settlement/{DAY}/run"
DECIDE = f"/admin/corporate-actions/{DAY}/MSFT/decide"
PENDING_CHECK = "no_pending_prediction_on_settled_day"


def admin_headers(client: TestClient) -> dict[str, str]:
    return bearer(dev_login(client, "corp.admin@example.com", role="ADMIN")["access_token"])


def hold_msft(client: TestClient, db: Session, clock: FrozenClock) -> tuple[dict[str, str], dict[str, Any]]:
    """AAPL and NVDA close normally; MSFT closes at half its baseline (a 2-for-1 split
    the provider did not report). The day is settled by an operator's run."""
    closes(db, AAPL="101.000000", MSFT="50.500000", NVDA="103.000000")
    clock.set(AFTER_CLOSE)
    headers = admin_headers(client)
    r = client.post(RUN, headers=headers)
    assert r.status_code == 200, r.text
    details: dict[str, Any] = r.json()["data"]["details"]
    return headers, details


def held_failures(db: Session) -> dict[str, list[dict[str, Any]]]:
    """The integrity failures while MSFT is held: none — its PENDING predictions on a day
    marked settled are not a failure while the symbol-day is held for review."""
    failed = failed_checks(db)
    assert PENDING_CHECK not in failed
    return failed


def test_a_split_like_close_is_held_and_the_rest_of_the_day_settles(
    client: TestClient, db: Session, clock: FrozenClock, players: tuple[int, int]
) -> None:
    bull, bear = players
    headers, details = hold_msft(client, db, clock)
    assert details["symbols_settled"] == 2
    [held] = details["held"]
    assert (held["symbol"], held["trigger"]) == ("MSFT", "MOVE")
    assert (held["close_price"], held["reference_price"], held["move"]) == (
        "50.500000", "101.125000", "-0.500618",
    )  # fmt: skip
    assert details["held_symbols"] == ["MSFT"]
    assert details["counts"]["pending"] == 2

    assert statuses(db, bull)["AAPL"] == ("CORRECT", 50, None)
    assert statuses(db, bear)["NVDA"] == ("INCORRECT", 0, None)
    assert statuses(db, bull)["MSFT"] == ("PENDING", 0, None)
    assert statuses(db, bear)["MSFT"] == ("PENDING", 0, None)
    assert [balance_of(db, bull), balance_of(db, bear)] == [1100, 1000]
    assert count(db, "SELECT count(*) FROM crypto.settlements WHERE symbol = 'MSFT'") == 0
    # The day is settled for everything else: the next day may open, the follow-up runs.
    assert count(db, "SELECT count(*) FROM crypto.session_control WHERE settled_at IS NOT NULL") == 1
    assert count(db, "SELECT count(*) FROM crypto.outbox WHERE topic = 'settlement.completed'") == 1

    # The operators were alerted, once per symbol-day.
    alert = db.execute(
        text("SELECT kind, title, sends FROM crypto.admin_alerts WHERE key = :k"),
        {"k": f"CORPORATE_ACTION_HELD:{DAY}:MSFT"},
    ).one()
    assert alert.kind == "CORPORATE_ACTION_HELD" and "MSFT" in alert.title and alert.sends == 1

    listed = client.get("/admin/corporate-actions?status=HELD", headers=headers)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["meta"]["total"] == 1
    [row] = body["data"]
    assert (row["trading_day"], row["symbol"], row["status"], row["trigger"]) == (
        DAY.isoformat(), "MSFT", "HELD", "MOVE",
    )  # fmt: skip
    assert row["predictions"] == {"PENDING": 2} and row["decided_at"] is None
    assert row["held_at"].endswith("+09:00")
    assert client.get("/admin/corporate-actions?status=SETTLED", headers=headers).json()["data"] == []

    # Re-running holds nothing new, settles nothing, alerts nothing again.
    again = client.post(RUN, headers=headers).json()["data"]["details"]
    assert (again["symbols_settled"], again["held"], again["held_symbols"]) == (0, [], ["MSFT"])
    assert statuses(db, bull)["MSFT"] == ("PENDING", 0, None)
    assert count(db, "SELECT occurrences FROM crypto.admin_alerts WHERE kind = 'CORPORATE_ACTION_HELD'") == 1
    assert held_failures(db) == {}


def test_SETTLE_settles_on_the_stored_close_and_a_retry_changes_nothing(
    client: TestClient, db: Session, clock: FrozenClock, players: tuple[int, int]
) -> None:
    bull, bear = players
    headers, _ = hold_msft(client, db, clock)
    body = {"decision": "SETTLE", "reason": "2-for-1 split confirmed; the baseline was pre-split"}
    r = client.post(DECIDE, json=body, headers=headers)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["job"], data["status"], data["trading_day"]) == ("settlement.run", "SUCCEEDED", "2026-11-23")
    details = data["details"]
    assert details["changed"] is True and details["applied"] is True
    assert details["review"]["status"] == "SETTLED"
    assert details["review"]["decided_by"].startswith("user:")
    assert details["predictions_before"] == {"PENDING": 2, "points": 0}
    assert details["predictions_after"] == {"CORRECT": 1, "INCORRECT": 1, "points": 50}
    assert details["settlement"]["symbols_settled"] == 1 and details["settlement"]["symbols"] == ["MSFT"]
    # On the stored close: 50.50 < 101.125, the bear was right.
    assert statuses(db, bear)["MSFT"] == ("CORRECT", 50, None)
    assert statuses(db, bull)["MSFT"] == ("INCORRECT", 0, None)
    assert [balance_of(db, bull), balance_of(db, bear)] == [1100, 1050]
    outcome = db.execute(
        text("SELECT outcome, close_price FROM crypto.settlements WHERE symbol = 'MSFT'")
    ).one()
    assert outcome.outcome == "DOWN"
    # The follow-up (notifications, leaderboard, crowd) runs again for the day.
    assert count(db, "SELECT count(*) FROM crypto.outbox WHERE topic = 'settlement.completed'") == 2
    audit = db.execute(
        text(
            "SELECT actor, payload FROM crypto.audit_log WHERE action = 'settlement.corporate_action.decide'"
        )
    ).one()
    assert audit.actor.startswith("user:")
    assert audit.payload["decision"] == "SETTLE" and audit.payload["before"] == {"PENDING": 2, "points": 0}
    assert failed_checks(db) == {}

    ledger = count(db, "SELECT count(*) FROM crypto.points_ledger")
    retry = client.post(DECIDE, json=body, headers=headers)
    assert retry.status_code == 200, retry.text
    assert retry.json()["data"]["details"]["changed"] is False
    assert count(db, "SELECT count(*) FROM crypto.points_ledger") == ledger
    assert count(db, "SELECT count(*) FROM crypto.outbox WHERE topic = 'settlement.completed'") == 2
    # The other decision is final's opposite: refused, nothing changes.
    other = client.post(DECIDE, json={"decision": "VOID", "reason": "changed my mind"}, headers=headers)
    assert other.status_code == 409 and error_code(other) == "CORP_001"
    assert statuses(db, bear)["MSFT"] == ("CORRECT", 50, None)
    assert client.get("/admin/corporate-actions?status=SETTLED", headers=headers).json()["meta"]["total"] == 1


def test_VOID_makes_the_held_predictions_void_and_a_retry_changes_nothing(
    client: TestClient, db: Session, clock: FrozenClock, players: tuple[int, int]
) -> None:
    bull, bear = players
    headers, _ = hold_msft(client, db, clock)
    body = {"decision": "VOID", "reason": "unadjusted close after a split"}
    r = client.post(DECIDE, json=body, headers=headers)
    assert r.status_code == 200, r.text
    details = r.json()["data"]["details"]
    assert details["review"]["status"] == "VOIDED"
    assert details["review"]["void_reason"] == "CORPORATE_ACTION"
    assert details["predictions_after"] == {"VOID": 2, "points": 0}
    for player in players:
        assert statuses(db, player)["MSFT"] == ("VOID", 0, "CORPORATE_ACTION")
    row = db.execute(text("SELECT outcome, void_reason FROM crypto.settlements WHERE symbol = 'MSFT'")).one()
    assert tuple(row) == ("VOID", "CORPORATE_ACTION")
    assert [balance_of(db, bull), balance_of(db, bear)] == [1100, 1000]
    assert failed_checks(db) == {}

    for _ in range(2):
        retry = client.post(DECIDE, json=body, headers=headers)
        assert retry.status_code == 200 and retry.json()["data"]["details"]["changed"] is False
    other = client.post(DECIDE, json={"decision": "SETTLE", "reason": "on second thought"}, headers=headers)
    assert other.status_code == 409 and error_code(other) == "CORP_001"
    # A later run of the day leaves the decision as it is.
    assert client.post(RUN, headers=headers).json()["data"]["details"]["symbols_settled"] == 0
    assert statuses(db, bull)["MSFT"] == ("VOID", 0, "CORPORATE_ACTION")
    assert failed_checks(db) == {}


def test_a_held_revision_keeps_the_earlier_results_until_decided(
    client: TestClient, db: Session, clock: FrozenClock, players: tuple[int, int]
) -> None:
    """A settled symbol whose corrected close (a higher vendor_rev) looks like a split is
    held too: its predictions keep the results of the earlier revision until decided;
    SETTLE then re-settles on the correction with compensating ledger entries."""
    bull, bear = players
    closes(db, AAPL="101.000000", MSFT="100.000000", NVDA="103.000000")
    clock.set(AFTER_CLOSE)
    headers = admin_headers(client)
    assert client.post(RUN, headers=headers).json()["data"]["details"]["symbols_settled"] == 3
    assert [balance_of(db, bull), balance_of(db, bear)] == [1100, 1050]

    db.execute(
        text(
            "INSERT INTO crypto.eod_prices (asof, symbol, vendor_rev, close_price, provider) "
            "VALUES (:d, 'AAPL', 1, 25.25, 'vendor-webhook')"
        ),
        {"d": DAY},
    )
    db.flush()
    details = client.post(RUN, headers=headers).json()["data"]["details"]
    assert details["symbols_settled"] == 0
    [held] = details["held"]
    assert (held["symbol"], held["trigger"], held["vendor_rev"]) == ("AAPL", "MOVE", 1)
    assert statuses(db, bull)["AAPL"] == ("CORRECT", 50, None)  # revision 0's result stands
    assert failed_checks(db) == {}  # nothing PENDING: the held revision is simply not applied

    decide = f"/admin/corporate-actions/{DAY}/AAPL/decide"
    r = client.post(
        decide, json={"decision": "SETTLE", "reason": "the vendor's correction is right"}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert statuses(db, bull)["AAPL"] == ("INCORRECT", 0, None)
    assert statuses(db, bear)["AAPL"] == ("CORRECT", 50, None)
    assert [balance_of(db, bull), balance_of(db, bear)] == [1050, 1100]
    refs = db.execute(text("SELECT ref_type, ref_id FROM crypto.points_ledger WHERE symbol = 'AAPL'")).all()
    assert {(r.ref_type, r.ref_id) for r in refs} == {
        ("SETTLEMENT", f"{DAY}:AAPL:{bull}"),
        ("SETTLEMENT", f"{DAY}:AAPL:{bear}:r1"),
        ("SETTLEMENT_REVERSAL", f"{DAY}:AAPL:{bull}:r1"),
    }
    assert failed_checks(db) == {}


def test_deciding_a_symbol_day_that_was_never_held_is_CORP_404(
    client: TestClient, db: Session, clock: FrozenClock, players: tuple[int, int]
) -> None:
    headers, _ = hold_msft(client, db, clock)
    r = client.post(
        f"/admin/corporate-actions/{DAY}/AAPL/decide", json={"decision": "VOID", "reason": "why not"},
        headers=headers,
    )  # fmt: skip
    assert r.status_code == 404 and error_code(r) == "CORP_404"
    r = client.post(
        "/admin/corporate-actions/2026-11-24/MSFT/decide", json={"decision": "VOID", "reason": "no day"},
        headers=headers,
    )  # fmt: skip
    assert r.status_code == 404 and error_code(r) == "SETTLE_404"
    assert statuses(db, players[0])["AAPL"] == ("CORRECT", 50, None)


def test_the_list_filters_by_day_and_pages(
    client: TestClient, db: Session, clock: FrozenClock, players: tuple[int, int]
) -> None:
    headers, _ = hold_msft(client, db, clock)
    client.post(
        f"/admin/settlement/{DAY}/NVDA/void",
        json={"reason": "HALT", "note": "halted all day"},
        headers=headers,
    )
    everything = client.get("/admin/corporate-actions", headers=headers).json()
    assert everything["meta"]["total"] == 2
    assert [(r["symbol"], r["status"], r["trigger"]) for r in everything["data"]] == [
        ("MSFT", "HELD", "MOVE"),
        ("NVDA", "VOIDED", None),
    ]
    page = client.get("/admin/corporate-actions?limit=1&offset=1", headers=headers).json()
    assert [r["symbol"] for r in page["data"]] == ["NVDA"] and page["meta"]["total"] == 2
    other_day = client.get("/admin/corporate-actions?trading_day=2026-11-24", headers=headers).json()
    assert other_day["data"] == [] and other_day["meta"]["total"] == 0
    voided = client.get("/admin/corporate-actions?status=VOIDED", headers=headers).json()["data"]
    assert voided[0]["void_reason"] == "HALT" and voided[0]["predictions"] == {"VOID": 2}
