"""The sweeper in the reconcile tick: a saga whose message never arrived (lost,
dead-lettered, a relay down) is handed back to the saga workers once idle past
REWARD_SAGA_TIMEOUT_S, through `POST /internal/cycle/tick` as EventBridge calls it (the
tick only requeues it through the outbox: the worker drives it); a tick with nothing
due records no sweep, and a saga just requeued is not due again."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.support.db import failed_checks
from tests.support.http import bearer, dev_login, internal
from tests.support.pipeline import Pipeline
from tests.support.rewards import add_reward, inventory, redemption, run_sagas


def _tick(api: TestClient, p: Pipeline) -> list[dict[str, object]]:
    r = api.post("/internal/cycle/tick", headers=internal(p.settings))
    assert r.status_code == 200, r.text
    actions: list[dict[str, object]] = r.json()["data"]["details"]["actions"]
    return [a for a in actions if a["step"] == "rewards.sweep"]


def _sweep_runs(p: Pipeline) -> object:
    return p.scalar("SELECT count(*) FROM crypto.job_runs WHERE job = 'rewards.sweep'")


def _requested_events(p: Pipeline) -> object:
    return p.scalar("SELECT count(*) FROM crypto.outbox WHERE topic = 'reward.requested'")


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
    assert run_sagas(p) == 0

    assert _tick(api, p) == []  # not idle long enough yet
    assert redemption(p, rid)["status"] == "REQUESTED"
    p.clock.advance(timedelta(seconds=p.settings.reward_saga_timeout_s + 1))
    (sweep,) = _tick(api, p)
    assert sweep == {"step": "rewards.sweep", "requeued": 1, "redemption_ids": [rid]}
    # The tick only handed it back (a new saga message through the outbox), and marked
    # it seen: a tick right after finds nothing due, and records no sweep.
    assert redemption(p, rid)["status"] == "REQUESTED"
    assert redemption(p, rid)["updated_at"] == p.clock.now()
    assert _requested_events(p) == 2
    assert _tick(api, p) == []
    assert _requested_events(p) == 2 and _sweep_runs(p) == 1

    assert run_sagas(p) == 1  # the saga worker takes it from there
    assert redemption(p, rid)["status"] == "ISSUED"
    assert inventory(p, "COFFEE") == (2, 0, 1)
    assert _sweep_runs(p) == 1
    assert _tick(api, p) == []  # nothing due any more: no sweep recorded
    assert _sweep_runs(p) == 1
    with p.session() as s:
        assert failed_checks(s, p.clock.now()) == {}


def test_a_requeued_saga_is_due_again_only_after_another_timeout(api: TestClient, pipeline: Pipeline) -> None:
    """Its message lost twice: each tick past a timeout requeues it once, never in between."""
    p = pipeline
    with p.session() as s:
        add_reward(s, "COFFEE", cost=300, stock=2)
    login = dev_login(api, "lost.twice@example.com")
    r = api.post("/v1/rewards/redeem", json={"sku": "COFFEE"}, headers=bearer(login["access_token"]))
    rid = r.json()["data"]["redemption_id"]
    timeout = p.settings.reward_saga_timeout_s

    def lose_messages() -> None:
        with p.engine.begin() as conn:
            conn.execute(
                text("UPDATE crypto.outbox SET published_at = now() WHERE topic = 'reward.requested'")
            )

    lose_messages()
    p.clock.advance(timedelta(seconds=timeout + 1))
    assert [s["redemption_ids"] for s in _tick(api, p)] == [[rid]]
    lose_messages()  # the requeued message is lost too
    p.clock.advance(timedelta(seconds=timeout - 1))
    assert _tick(api, p) == []  # requeued less than a timeout ago
    p.clock.advance(timedelta(seconds=2))
    assert [s["redemption_ids"] for s in _tick(api, p)] == [[rid]]
    assert _requested_events(p) == 3 and _sweep_runs(p) == 2
    assert run_sagas(p) == 1
    assert redemption(p, rid)["status"] == "ISSUED"
    with p.session() as s:
        assert failed_checks(s, p.clock.now()) == {}
