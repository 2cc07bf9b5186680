"""The sweeper in the reconcile tick: a saga whose message never arrived (lost,
dead-lettered, a relay down) is resumed once idle past REWARD_SAGA_TIMEOUT_S, through
`POST /internal/cycle/tick` as EventBridge calls it; a tick with nothing due records no
sweep."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.support.db import failed_checks
from tests.support.http import bearer, dev_login, internal
from tests.support.pipeline import Pipeline
from tests.support.rewards import add_reward, inventory, redemption


def _tick(api: TestClient, p: Pipeline) -> list[dict[str, object]]:
    r = api.post("/internal/cycle/tick", headers=internal(p.settings))
    assert r.status_code == 200, r.text
    actions: list[dict[str, object]] = r.json()["data"]["details"]["actions"]
    return [a for a in actions if a["step"] == "rewards.sweep"]


def test_a_saga_whose_message_was_lost_is_resumed_by_the_tick_after_the_timeout(
    api: TestClient, pipeline: Pipeline
) -> None:
    p = pipeline
    with p.session() as s:
        add_reward(s, "COFFEE", cost=300, stock=2)
    login = dev_login(api, "lost.message@example.com")
    r = api.post("/v1/rewards/redeem", json={"sku": "COFFEE"}, headers=bearer(login["access_token"]))
    rid = r.json()["data"]["redemption_id"]
    # The message is lost: the outbox row is marked done without ever reaching SQS.
    with p.engine.begin() as conn:
        conn.execute(text("UPDATE crypto.outbox SET published_at = now() WHERE topic = 'reward.requested'"))

    assert _tick(api, p) == []  # not idle long enough yet
    assert redemption(p, rid)["status"] == "REQUESTED"
    p.clock.advance(timedelta(seconds=p.settings.reward_saga_timeout_s + 1))
    (sweep,) = _tick(api, p)
    assert sweep["swept"] == 1 and sweep["outcomes"] == {"ISSUED": 1} and sweep["errors"] == 0
    assert redemption(p, rid)["status"] == "ISSUED"
    assert inventory(p, "COFFEE") == (2, 0, 1)
    assert p.scalar("SELECT count(*) FROM crypto.job_runs WHERE job = 'rewards.sweep'") == 1
    assert _tick(api, p) == []  # nothing due any more: no sweep recorded
    assert p.scalar("SELECT count(*) FROM crypto.job_runs WHERE job = 'rewards.sweep'") == 1
    with p.session() as s:
        assert failed_checks(s, p.clock.now()) == {}
