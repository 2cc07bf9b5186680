"""A player's public profile: nickname, join date and record — never an email or a
provider id; other players' profiles are readable with any player token."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.support.http import bearer, dev_login, error_code


def _settle(db: Session, user_id: int, outcomes: list[tuple[str, str]]) -> None:
    for i, (symbol, status) in enumerate(outcomes):
        db.execute(
            text(
                "INSERT INTO crypto.active_universe (trading_day, symbol, seq) "
                "VALUES (DATE '2026-11-02' + :i, :s, 1) ON CONFLICT DO NOTHING"
            ),
            {"i": i, "s": symbol},
        )
        db.execute(
            text(
                "INSERT INTO crypto.predictions (trading_day, user_id, symbol, choice, status, "
                "points_awarded, baseline_price, submitted_at, settled_at) "
                "VALUES (DATE '2026-11-02' + :i, :u, :s, 'UP', "
                "CAST(:st AS crypto.prediction_status), :pts, 100, now(), now())"
            ),
            {"i": i, "u": user_id, "s": symbol, "st": status, "pts": 50 if status == "CORRECT" else 0},
        )
    db.flush()


def test_a_public_profile_shows_the_record_and_badges_and_nothing_private(
    client: TestClient, db: Session
) -> None:
    star = dev_login(client, "star.player@example.com", nickname="star_player")
    viewer = dev_login(client, "viewer@example.com")
    _settle(db, star["user"]["id"], [("AAPL", "CORRECT")] * 5 + [("MSFT", "INCORRECT"), ("NVDA", "VOID")])
    r = client.get("/v1/users/star_player", headers=bearer(viewer["access_token"]))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["nickname"] == "star_player"
    assert set(data) == {"nickname", "joined_at", "stats"}
    assert "star.player@example.com" not in r.text and "provider" not in r.text
    stats = data["stats"]
    assert (stats["correct"], stats["incorrect"], stats["void"], stats["best_streak"]) == (5, 1, 1, 5)
    assert stats["current_streak"] == 0 and stats["win_rate"] == round(5 / 6, 4)
    assert {b["code"] for b in stats["badges"]} == {"FIRST_WIN", "FIVE_IN_A_ROW"}
    assert [(s["symbol"], s["win_rate"]) for s in stats["by_symbol"]] == [
        ("AAPL", 1.0),
        ("MSFT", 0.0),
        ("NVDA", None),
    ]


def test_unknown_or_deactivated_players_are_USER_404_and_a_token_is_needed(
    client: TestClient, db: Session
) -> None:
    gone = dev_login(client, "gone@example.com", nickname="gone_player")
    viewer = dev_login(client, "viewer2@example.com")
    auth = bearer(viewer["access_token"])
    assert client.get("/v1/users/gone_player", headers=auth).status_code == 200
    db.execute(text("UPDATE crypto.users SET is_active = false WHERE id = :u"), {"u": gone["user"]["id"]})
    db.flush()
    for nickname in ("gone_player", "nobody_here"):
        r = client.get(f"/v1/users/{nickname}", headers=auth)
        assert r.status_code == 404 and error_code(r) == "USER_404", nickname
    assert client.get("/v1/users/gone_player").status_code == 401
    assert client.get("/v1/users/a b", headers=auth).status_code == 422


def test_export_returns_all_my_data_and_nothing_of_anyone_else(client: TestClient, db: Session) -> None:
    me = dev_login(client, "exporter@example.com", nickname="exporter")
    other = dev_login(client, "bystander@example.com", nickname="bystander")
    _settle(db, me["user"]["id"], [("AAPL", "CORRECT"), ("MSFT", "INCORRECT")])
    _settle(db, other["user"]["id"], [("TSLA", "CORRECT")])
    auth = bearer(me["access_token"])
    device = {"token": "fcm-exporter-token-" + "y" * 40, "platform": "IOS"}
    assert client.post("/v1/devices", json=device, headers=auth).status_code == 201
    prefs = {"categories": {"STREAK": False}, "quiet_hours": {"start": "23:00", "end": "07:00"}}
    assert client.put("/v1/notifications/preferences", json=prefs, headers=auth).status_code == 200
    r = client.get("/v1/users/me/export", headers=auth)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["profile"]["email"] == "exporter@example.com" and data["profile"]["points_balance"] == 1000
    tables = {
        "predictions", "points_ledger", "points_holds", "ad_unlocks", "redemptions", "notifications",
        "devices", "push_preferences",
    }  # fmt: skip
    assert set(data) == {"exported_at", "profile", *tables}
    assert [p["symbol"] for p in data["predictions"]] == ["AAPL", "MSFT"]
    assert [e["reason"] for e in data["points_ledger"]] == ["signup_bonus"]
    assert "bystander" not in r.text and "TSLA" not in r.text
    assert all("user_id" not in row for rows in data.values() if isinstance(rows, list) for row in rows)
    # Only the listed columns: no saga internals, refs or nonces.
    assert set(data["predictions"][0]) == {
        "id", "trading_day", "symbol", "choice", "status", "baseline_price", "points_awarded",
        "void_reason", "submitted_at", "updated_at", "settled_at",
    }  # fmt: skip
    assert set(data["points_ledger"][0]) == {
        "id", "delta_points", "reason", "balance_after", "trading_day", "symbol", "created_at"
    }  # fmt: skip
    # My device, without its push token; my push settings.
    assert [d["platform"] for d in data["devices"]] == ["IOS"] and device["token"] not in r.text
    [saved] = data["push_preferences"]
    assert saved["muted_categories"] == ["STREAK"] and saved["quiet_start"] == "23:00:00"
    assert client.get("/v1/users/me/export").status_code == 401
