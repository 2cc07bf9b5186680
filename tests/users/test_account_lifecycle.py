"""Account lifecycle: DELETE /v1/users/me deactivates at once; signing in again within
the grace period reactivates the account as it was; after it, a job (run by the
reconcile tick while any is due) erases the personal data — email, nickname, provider
id, sessions, inbox — and keeps predictions, the ledger and the audit trail whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from myapi.main import create_app
from tests.support.factories import open_day, predict
from tests.support.http import bearer, dev_login, error_code
from tests.support.pipeline import Pipeline

GRACE = timedelta(days=30)


@pytest.fixture
def api(pipeline: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(container=pipeline.container), raise_server_exceptions=False) as client:
        yield client


def _user(p: Pipeline, user_id: int) -> dict[str, Any]:
    with p.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM crypto.users WHERE id = :u"), {"u": user_id}).one()
    return dict(row._mapping)


def _count(p: Pipeline, table: str, user_id: int) -> int:
    return int(str(p.scalar(f"SELECT count(*) FROM crypto.{table} WHERE user_id = :u", u=user_id)))


def _deleted_player(p: Pipeline, api: TestClient, email: str) -> tuple[int, dict[str, Any]]:
    """A player with a prediction, a notification and a ledger, who deletes their account."""
    login = dev_login(api, email, nickname=email.split("@")[0].replace(".", "_"))
    user_id = int(login["user"]["id"])
    with p.session() as s:
        open_day(s, p.clock, p.settings, ("AAPL", "MSFT"))
    with p.session() as s:
        predict(s, p.clock, p.settings, user_id, "AAPL", "UP")
        s.execute(
            text(
                "INSERT INTO crypto.notifications (user_id, category, dedup_key, title, body) "
                "VALUES (:u, 'SETTLEMENT', 'x', 'hello', 'body')"
            ),
            {"u": user_id},
        )
    auth = bearer(login["access_token"])
    r = api.post(
        "/v1/devices", json={"token": f"fcm-{user_id}-" + "x" * 40, "platform": "ANDROID"}, headers=auth
    )
    assert r.status_code == 201, r.text
    r = api.delete("/v1/users/me", headers=auth)
    assert r.status_code == 200, r.text
    return user_id, r.json()["data"]


def test_signing_in_within_the_grace_period_gives_the_account_back(
    pipeline: Pipeline, api: TestClient
) -> None:
    p = pipeline
    user_id, deleted = _deleted_player(p, api, "comeback@example.com")
    asked = p.clock.now()
    assert set(deleted) == {"deactivated", "anonymise_at"} and deleted["deactivated"] is True
    assert deleted["anonymise_at"].endswith("+09:00")
    assert datetime.fromisoformat(deleted["anonymise_at"]) == asked + GRACE
    before = _user(p, user_id)
    assert before["is_active"] is False and before["deletion_requested_at"] == asked

    p.clock.set(asked + GRACE - timedelta(minutes=1))
    login = dev_login(api, "comeback@example.com")
    assert login["reactivated"] is True and login["is_new_user"] is False
    assert login["user"]["id"] == user_id and login["user"]["nickname"] == "comeback"
    assert login["signup_bonus"] is None and login["user"]["points_balance"] == 1000
    after = _user(p, user_id)
    assert (after["is_active"], after["deactivated_at"], after["deletion_requested_at"]) == (True, None, None)
    assert api.get("/v1/users/me", headers=bearer(login["access_token"])).status_code == 200
    actions = [
        r.action
        for r in p.engine.connect().execute(
            text("SELECT action FROM crypto.audit_log WHERE target = :t ORDER BY id"),
            {"t": f"user:{user_id}"},
        )
    ]
    assert actions == ["user.delete_requested", "user.reactivated"]
    # Nothing is due: the tick records no anonymisation.
    tick = p.container.jobs().tick()
    assert "users.anonymise" not in [a["step"] for a in tick.details["actions"]]
    assert _user(p, user_id)["anonymised_at"] is None


def test_after_the_grace_period_the_tick_erases_the_personal_data_and_keeps_the_record(
    pipeline: Pipeline, api: TestClient
) -> None:
    p = pipeline
    gone, _ = _deleted_player(p, api, "gone.player@example.com")
    stays = int(dev_login(api, "stays@example.com")["user"]["id"])
    asked = p.clock.now()
    ledger_before = p.scalar("SELECT sum(delta_points) FROM crypto.points_ledger WHERE user_id = :u", u=gone)
    predictions_before = _count(p, "predictions", gone)
    assert _count(p, "refresh_tokens", gone) > 0 and _count(p, "notifications", gone) == 1
    assert _count(p, "push_devices", gone) == 1

    # At the end of the grace period, signing in no longer brings it back.
    p.clock.set(asked + GRACE)
    r = api.post("/v1/auth/dev-login", json={"email": "gone.player@example.com"})
    assert r.status_code == 403 and error_code(r) == "AUTH_004"

    ticks = [p.container.jobs().tick() for _ in range(3)]
    steps = [[a for a in t.details["actions"] if a["step"] == "users.anonymise"] for t in ticks]
    assert steps[0] == [{"step": "users.anonymise", "anonymised": 1, "more": False}]
    assert steps[1] == steps[2] == []  # done once; nothing due afterwards

    erased = _user(p, gone)
    assert erased["email"] is None and erased["nickname"] == f"deleted-{gone}"
    assert erased["provider_id"] == f"erased:{gone}" and erased["anonymised_at"] == asked + GRACE
    assert _count(p, "refresh_tokens", gone) == 0 and _count(p, "notifications", gone) == 0
    assert _count(p, "push_devices", gone) == 0
    assert _count(p, "predictions", gone) == predictions_before
    assert p.scalar("SELECT sum(delta_points) FROM crypto.points_ledger WHERE user_id = :u", u=gone) == (
        ledger_before
    )
    assert _user(p, stays)["email"] == "stays@example.com"  # nobody else is touched
    audit = p.scalar(
        "SELECT count(*) FROM crypto.audit_log WHERE action = 'user.anonymise' AND target = :t",
        t=f"user:{gone}",
    )
    assert audit == 1
    # Integrity holds over the anonymous records.
    admin = dev_login(api, "ops@example.com", role="ADMIN")
    r = api.get("/admin/integrity", headers=bearer(admin["access_token"]))
    assert r.status_code == 200 and r.json()["data"]["passed"] is True, r.text

    # The same Google/dev identity now starts a new account; the old nickname is free
    # (and, the email having been erased, the signup bonus is paid again: see the docs).
    again = dev_login(api, "gone.player@example.com", nickname="gone_player")
    assert again["is_new_user"] is True and again["user"]["id"] != gone
    assert again["user"]["nickname"] == "gone_player"
    # "deleted-<id>" is outside the nickname alphabet: no player can take or look it up.
    r = api.get(f"/v1/users/deleted-{gone}", headers=bearer(again["access_token"]))
    assert r.status_code == 422


def test_an_operator_suspension_is_never_anonymised(pipeline: Pipeline, api: TestClient) -> None:
    p = pipeline
    user_id = int(dev_login(api, "suspended@example.com")["user"]["id"])
    with p.session() as s:
        s.execute(
            text("UPDATE crypto.users SET is_active = false, deactivated_at = :t WHERE id = :u"),
            {"u": user_id, "t": p.clock.now()},
        )
    p.clock.set(p.clock.now() + GRACE * 3)
    assert p.container.jobs().anonymise_accounts().details == {"anonymised": 0, "more": False}
    assert _user(p, user_id)["email"] == "suspended@example.com"
    r = api.post("/v1/auth/dev-login", json={"email": "suspended@example.com"})
    assert r.status_code == 403 and error_code(r) == "AUTH_004"


def test_the_anonymisation_works_in_batches(pipeline: Pipeline, api: TestClient) -> None:
    p = pipeline
    ids = []
    for i in range(3):
        login = dev_login(api, f"batch{i}@example.com")
        assert api.delete("/v1/users/me", headers=bearer(login["access_token"])).status_code == 200
        ids.append(int(login["user"]["id"]))
    p.clock.set(p.clock.now() + GRACE + timedelta(seconds=1))
    with p.session() as s:
        first = p.container.user_service(s).anonymise_due(limit=2)
    assert first == {"anonymised": 2, "more": True}
    assert p.container.jobs().anonymise_accounts().details == {"anonymised": 1, "more": False}
    assert [_user(p, u)["nickname"] for u in ids] == [f"deleted-{u}" for u in ids]
