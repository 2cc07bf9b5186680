"""Admin point adjustments: audited, ledgered with the audit id, validated, admin only."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.support.db import balance_of, count, failed_checks
from tests.support.http import bearer, dev_login, error_code


@pytest.fixture
def admin_and_player(client: TestClient) -> tuple[dict[str, Any], dict[str, Any], int]:
    admin = dev_login(client, "adjust.admin@example.com", role="ADMIN")
    player = dev_login(client, "adjust.player@example.com")
    return admin, player, int(player["user"]["id"])


def test_admin_adjustment_is_audited_and_ledgered_with_the_audit_id(
    client: TestClient, db: Session, admin_and_player: tuple[dict[str, Any], dict[str, Any], int]
) -> None:
    admin, player, player_id = admin_and_player
    r = _adjust(client, admin, player_id, {"delta": 250, "reason": "compensation for outage"})
    assert r.status_code == 200, r.text
    out = r.json()["data"]
    assert (out["delta"], out["balance_after"]) == (250, 1250)
    entry = db.execute(
        text(
            "SELECT user_id, delta_points, reason, ref_type, ref_id, balance_after "
            "FROM crypto.points_ledger WHERE id = :i"
        ),
        {"i": out["entry_id"]},
    ).one()
    assert (entry.user_id, entry.delta_points, entry.ref_type, entry.balance_after) == (
        player_id,
        250,
        "ADMIN",
        1250,
    )
    assert entry.ref_id == str(out["audit_id"])
    audit = db.execute(
        text("SELECT actor, actor_user_id, action, target, payload FROM crypto.audit_log WHERE id = :i"),
        {"i": out["audit_id"]},
    ).one()
    admin_id = admin["user"]["id"]
    assert audit.actor_user_id == admin_id and audit.actor == f"user:{admin_id}"
    assert (audit.action, audit.target) == ("points.adjust", f"user:{player_id}")
    assert audit.payload == {"delta": 250, "reason": "compensation for outage"}
    assert (
        client.get("/v1/points/balance", headers=bearer(player["access_token"])).json()["data"]["balance"]
        == 1250
    )
    assert failed_checks(db) == {}


def test_an_adjustment_below_zero_is_POINT_001_and_writes_nothing(
    client: TestClient, db: Session, admin_and_player: tuple[dict[str, Any], dict[str, Any], int]
) -> None:
    admin, player, player_id = admin_and_player
    r = _adjust(client, admin, player_id, {"delta": -5000, "reason": "clawback"})
    assert r.status_code == 409, r.text
    assert error_code(r) == "POINT_001"
    assert r.json()["error"]["details"] == {"balance": 1000, "held": 0, "required": 5000}
    # The audit row was written before the ledger refused: the whole request rolled back.
    assert count(db, "SELECT count(*) FROM crypto.audit_log WHERE action = 'points.adjust'") == 0
    assert count(db, "SELECT count(*) FROM crypto.points_ledger WHERE user_id = :u", u=player_id) == 1
    assert count(db, "SELECT count(*) FROM crypto.points_ledger WHERE ref_type = 'ADMIN'") == 0
    assert balance_of(db, player_id) == 1000


def test_taking_points_within_the_balance_is_allowed(
    client: TestClient, admin_and_player: tuple[dict[str, Any], dict[str, Any], int]
) -> None:
    admin, _player, player_id = admin_and_player
    r = _adjust(client, admin, player_id, {"delta": -1000, "reason": "clawback all"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["balance_after"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"delta": 0, "reason": "nothing at all"},
        {"delta": 10},
        {"delta": 10, "reason": ""},
        {"delta": 10, "reason": "ok reason", "extra": 1},
        {"delta": "lots", "reason": "not a number"},
        {"delta": True, "reason": "a boolean is not +1"},
        {"delta": 5.0, "reason": "a float is not an integer"},
        {"delta": "5", "reason": "a string is not an integer"},
    ],
    ids=[
        "zero-delta",
        "missing-reason",
        "empty-reason",
        "extra-field",
        "non-integer-delta",
        "boolean",
        "float",
        "numeric-string",
    ],
)
def test_an_invalid_adjustment_is_422(
    client: TestClient,
    db: Session,
    admin_and_player: tuple[dict[str, Any], dict[str, Any], int],
    body: dict[str, Any],
) -> None:
    admin, _player, player_id = admin_and_player
    r = client.post(
        f"/admin/users/{player_id}/adjust-points", json=body, headers=bearer(admin["access_token"])
    )
    assert r.status_code == 422, r.text
    assert error_code(r) == "SYS_422"
    assert count(db, "SELECT count(*) FROM crypto.audit_log WHERE action = 'points.adjust'") == 0


@pytest.mark.parametrize("delta", [10**19, 2**63 - 1000], ids=["beyond-bigint", "balance-overflows"])
def test_an_out_of_range_adjustment_is_422_not_500(
    client: TestClient,
    db: Session,
    admin_and_player: tuple[dict[str, Any], dict[str, Any], int],
    delta: int,
) -> None:
    admin, _player, player_id = admin_and_player
    r = _adjust(client, admin, player_id, {"delta": delta, "reason": "overflow"})
    assert balance_of(db, player_id) == 1000
    assert r.status_code == 422, r.text


def test_adjusting_an_unknown_user_is_USER_404(client: TestClient, db: Session) -> None:
    admin = dev_login(client, "adjust.admin404@example.com", role="ADMIN")
    r = client.post(
        "/admin/users/987654321/adjust-points",
        json={"delta": 10, "reason": "who is this"},
        headers=bearer(admin["access_token"]),
    )
    assert r.status_code == 404, r.text
    assert error_code(r) == "USER_404"
    assert count(db, "SELECT count(*) FROM crypto.audit_log WHERE action = 'points.adjust'") == 0


def test_a_player_cannot_adjust_points(
    client: TestClient, db: Session, admin_and_player: tuple[dict[str, Any], dict[str, Any], int]
) -> None:
    _admin, player, player_id = admin_and_player
    r = _adjust(client, player, player_id, {"delta": 1000000, "reason": "free money"})
    assert r.status_code == 403, r.text
    assert error_code(r) == "AUTH_003"
    r = client.post(f"/admin/users/{player_id}/adjust-points", json={"delta": 1, "reason": "anon"})
    assert r.status_code == 401
    assert balance_of(db, player_id) == 1000


def test_a_retried_adjustment_with_the_same_key_credits_once(
    client: TestClient, db: Session, admin_and_player: tuple[dict[str, Any], dict[str, Any], int]
) -> None:
    admin, _player, player_id = admin_and_player
    headers = {**bearer(admin["access_token"]), "Idempotency-Key": "adjust-retry-1"}
    body = {"delta": 40, "reason": "goodwill credit"}
    first = client.post(f"/admin/users/{player_id}/adjust-points", json=body, headers=headers)
    again = client.post(f"/admin/users/{player_id}/adjust-points", json=body, headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["data"] == first.json()["data"]
    assert balance_of(db, player_id) == 1040
    assert count(db, "SELECT count(*) FROM crypto.points_ledger WHERE ref_type = 'ADMIN'") == 1
    # The same key with another body is refused; another key is another adjustment.
    other = client.post(
        f"/admin/users/{player_id}/adjust-points", json={**body, "delta": 41}, headers=headers
    )
    assert other.status_code == 422 and error_code(other) == "IDEM_003"
    fresh = client.post(
        f"/admin/users/{player_id}/adjust-points", json=body,
        headers={**headers, "Idempotency-Key": "adjust-retry-2"},
    )  # fmt: skip
    assert fresh.status_code == 200 and balance_of(db, player_id) == 1080


def _adjust(client: TestClient, caller: dict[str, Any], user_id: int, body: dict[str, Any]) -> Any:
    """POST /admin/users/{id}/adjust-points as `caller` (a dev-login result)."""
    return client.post(
        f"/admin/users/{user_id}/adjust-points", json=body, headers=bearer(caller["access_token"])
    )
