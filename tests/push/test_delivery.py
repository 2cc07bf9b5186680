"""Push delivery end to end: notifications made by their real producers (the settlement
follow-up through the queue, the reward notification) pushed by the push.deliver job
through the real FCM client to the local fake FCM — once per device, whatever runs
again or at the same time; retries, invalid tokens, opt-outs, quiet hours, deactivated
players and moved tokens."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from myapi.events.catalogue import request_settlement
from myapi.events.relay import envelope
from myapi.jobs.runner import JobResult
from myapi.outbox.models import OutboxEvent
from myapi.providers.queue import OutgoingMessage
from tests.push.conftest import PushWorld
from tests.support.days import AFTER_CLOSE, DAY
from tests.support.factories import add_close, open_day, predict
from tests.support.fake_fcm import bad_token, rate_limited, unavailable, unregistered

ANN_PHONE = "ann-phone-token:APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ"
ANN_TABLET = "ann-tablet-token:APA91bE5t0kyXkM0AQ3Q1vKzTn6p2hQ2rVb8Yp0j1mWqzLk"
BOB_WEB = "bob-web-token:dGVzdC13ZWItcHVzaC10b2tlbi1mb3ItYm9iLWxhcHRvcA"
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN")


def _settle(w: PushWorld) -> None:
    with w.p.session() as s:
        request_settlement(s, w.p.clock.now(), DAY)
    w.p.pump()


def _status(w: PushWorld) -> dict[tuple[int, int], str]:
    return {(d["notification_id"], d["device_id"]): d["status"] for d in w.deliveries()}


def test_a_settled_day_is_pushed_once_to_each_device_and_never_again(world: PushWorld) -> None:
    """Through the queue: settle -> settlement.completed -> the follow-up job makes the
    results notifications and, in the same worker, the push pass sends each to each of
    its player's devices. Redeliveries, more passes and a price revision (the
    notification updated and unread again) push nothing more."""
    w, p = world, world.p
    ann_auth, ann = w.player("ann.push@example.com")
    bob_auth, bob = w.player("bob.push@example.com")
    cid_auth, cid = w.player("cid.push@example.com")
    phone, tablet = w.device(ann_auth, ANN_PHONE, "ANDROID"), w.device(ann_auth, ANN_TABLET, "IOS")
    web = w.device(bob_auth, BOB_WEB, "WEB")
    for auth in (ann_auth, bob_auth):  # the results arrive at 06:30 KST: no quiet hours for them
        w.preferences(auth, quiet_hours=None)
    with p.session() as s:
        open_day(s, p.clock, p.settings, SYMBOLS)
    with p.session() as s:
        predict(s, p.clock, p.settings, ann, "AAPL", "UP")  # win
        predict(s, p.clock, p.settings, ann, "MSFT", "UP")  # loss
        predict(s, p.clock, p.settings, bob, "MSFT", "DOWN")  # win
        for symbol, close in zip(SYMBOLS, ("101", "100", "102.125", "104"), strict=True):
            add_close(s, symbol, DAY, close)
    p.clock.set(AFTER_CLOSE)
    _settle(w)

    [ann_note], [bob_note] = w.notification_ids(ann, "SETTLEMENT"), w.notification_ids(bob, "SETTLEMENT")
    assert w.notification_ids(cid) == []
    assert sorted(s.token for s in w.fcm.sent) == sorted([ANN_PHONE, ANN_TABLET, BOB_WEB])
    [to_phone], [to_tablet], [to_web] = (w.fcm.sent_to(t) for t in (ANN_PHONE, ANN_TABLET, BOB_WEB))
    assert to_phone.title == to_tablet.title == to_web.title == "Your results for 2026-11-23"
    assert to_phone.body == "2 predictions, 1 correct, +50 points"
    assert to_web.body == "1 prediction, 1 correct, +50 points"
    assert to_phone.data == {
        "notification_id": str(ann_note), "category": "SETTLEMENT", "trading_day": "2026-11-23",
        "predictions": "2", "wins": "1", "voids": "0", "points": "50",
    }  # fmt: skip
    assert to_web.data["notification_id"] == str(bob_note)
    assert to_phone.authorization == "Bearer ya29.fake-1"
    assert w.fcm.tokens_issued == 1  # one access token for the three sends
    assert _status(w) == {
        (ann_note, phone["id"]): "SENT", (ann_note, tablet["id"]): "SENT", (bob_note, web["id"]): "SENT",
    }  # fmt: skip
    runs = "SELECT count(*) FROM crypto.job_runs WHERE job = 'push.deliver' AND status = 'SUCCEEDED'"
    assert p.scalar(runs) == 1  # run by the follow-up's worker, right after it

    # Cid installs the app now: a notification made before his device is not pushed to it.
    cid_auth, _ = w.player("cid.push@example.com")  # a fresh token: the clock is past the morning's
    w.device(cid_auth, "cid-late-token-0000000000")
    # settlement.completed delivered three more times, and three more passes: nothing new.
    with p.session() as s:
        [completed] = s.scalars(select(OutboxEvent).where(OutboxEvent.topic == "settlement.completed")).all()
        s.expunge(completed)
    p.clock.advance(timedelta(minutes=5))
    queue_name = p.settings.queue_names["settlement_compute"]
    p.container.queue().send_batch(queue_name, [OutgoingMessage(envelope(completed)) for _ in range(3)])
    assert p.worker("settlement_compute").drain() == 3
    for _ in range(3):
        w.deliver()
    assert len(w.fcm.sent) == 3

    # A price revision: Ann's AAPL UP now loses; her notification is updated in place and
    # unread again — and not pushed a second time.
    with p.session() as s:
        add_close(s, "AAPL", DAY, "99.000000", vendor_rev=1)
    p.clock.advance(timedelta(minutes=30))
    _settle(w)
    w.deliver()
    assert w.notification_ids(ann, "SETTLEMENT") == [ann_note]
    body = p.scalar("SELECT body FROM crypto.notifications WHERE id = :i", i=ann_note)
    assert body == "2 predictions, 0 correct, +0 points"
    assert p.scalar("SELECT read_at IS NULL FROM crypto.notifications WHERE id = :i", i=ann_note)
    assert len(w.fcm.sent) == 3
    assert len(w.deliveries()) == 3


def test_5xx_and_429_are_retried_within_the_pass_and_a_long_retry_after_waits_for_a_later_pass(
    world: PushWorld,
) -> None:
    w, p = world, world.p
    auth, ann = w.player("ann.retry@example.com")
    phone, tablet = w.device(auth, ANN_PHONE), w.device(auth, ANN_TABLET)
    w.fcm.script(ANN_PHONE, unavailable(), unavailable())  # 503, 503, then 200
    w.fcm.script(ANN_TABLET, rate_limited(1))  # 429 Retry-After: 1, then 200
    w.notify(ann, 1)
    details = w.deliver()
    assert details["sent"] == 2
    assert w.fcm.attempts_to(ANN_PHONE) == 3 and len(w.fcm.sent_to(ANN_PHONE)) == 1
    assert w.fcm.attempts_to(ANN_TABLET) == 2 and len(w.fcm.sent_to(ANN_TABLET)) == 1
    assert sorted(w.sleeps) == [0.25, 0.5, 1.0]  # back-off 0.25 s, 0.5 s; the Retry-After 1 s
    assert {d["status"] for d in w.deliveries()} == {"SENT"}
    assert {d["attempts"] for d in w.deliveries()} == {1}  # one pass each

    # A Retry-After longer than FCM_BACKOFF_MAX_S is not slept: the push waits for a
    # pass after it (and after PUSH_RETRY_BASE_S, whichever is later).
    w.sleeps.clear()
    w.fcm.script(ANN_PHONE, rate_limited(120))
    w.notify(ann, 2)
    [note1, note2] = w.notification_ids(ann)
    assert w.deliver()["retry"] == 1
    assert w.sleeps == []
    [waiting] = [d for d in w.deliveries() if d["notification_id"] == note2 and d["device_id"] == phone["id"]]
    assert waiting["status"] == "PENDING" and waiting["attempts"] == 1 and waiting["lease_token"] is None
    assert waiting["next_attempt_at"] == p.clock.now() + timedelta(seconds=120)
    assert "429" in waiting["last_error"]
    assert not p.container.push_delivery().due()
    p.clock.advance(timedelta(seconds=119))
    assert w.deliver().get("sent", 0) == 0
    p.clock.advance(timedelta(seconds=1))
    assert w.deliver()["sent"] == 1
    assert [s.data["notification_id"] for s in w.fcm.sent_to(ANN_PHONE)] == [str(note1), str(note2)]
    assert len(w.fcm.sent_to(ANN_TABLET)) == 2 and tablet["id"] != phone["id"]


def test_a_push_failing_on_every_pass_is_given_up_after_push_max_attempts(world: PushWorld) -> None:
    w, p = world, world.p
    w.configure(push_max_attempts=2, push_retry_base_s=60)
    auth, ann = w.player("ann.giveup@example.com")
    w.device(auth, ANN_PHONE)
    w.fcm.always[ANN_PHONE] = unavailable()
    w.notify(ann, 1)
    assert w.deliver()["retry"] == 1
    assert w.fcm.attempts_to(ANN_PHONE) == 3  # FCM_MAX_ATTEMPTS within the pass
    [row] = w.deliveries()
    assert (row["status"], row["attempts"]) == ("PENDING", 1)
    assert row["next_attempt_at"] == p.clock.now() + timedelta(seconds=60)
    p.clock.advance(timedelta(seconds=60))
    assert w.deliver()["failed"] == 1
    [row] = w.deliveries()
    assert (row["status"], row["attempts"]) == ("FAILED", 2)
    assert "503" in row["last_error"]
    p.clock.advance(timedelta(hours=1))
    assert not p.container.push_delivery().due()
    assert w.fcm.attempts_to(ANN_PHONE) == 6 and w.fcm.sent == []


def test_an_invalid_token_deletes_the_device_and_other_devices_still_get_their_pushes(
    world: PushWorld,
) -> None:
    w = world
    auth, ann = w.player("ann.invalid@example.com")
    phone, tablet = w.device(auth, ANN_PHONE), w.device(auth, ANN_TABLET)
    web = w.device(auth, BOB_WEB, "WEB")
    w.fcm.script(ANN_PHONE, unregistered())  # 404 UNREGISTERED
    w.fcm.script(ANN_TABLET, bad_token())  # 400 INVALID_ARGUMENT on message.token
    w.notify(ann, 1)
    details = w.deliver()
    assert (details["invalid_token"], details["sent"]) == (2, 1)
    [note] = w.notification_ids(ann)
    assert _status(w) == {
        (note, phone["id"]): "INVALID_TOKEN",
        (note, tablet["id"]): "INVALID_TOKEN",
        (note, web["id"]): "SENT",
    }
    assert [d["id"] for d in w.devices(auth)] == [web["id"]]  # the two are pruned

    w.notify(ann, 2)
    w.deliver()
    assert [s.token for s in w.fcm.sent] == [BOB_WEB, BOB_WEB]
    assert w.fcm.attempts_to(ANN_PHONE) == 1 and w.fcm.attempts_to(ANN_TABLET) == 1
    # Registering the pruned token again makes it a device again.
    assert w.device(auth, ANN_PHONE)["id"] not in (phone["id"], tablet["id"], web["id"])


def test_a_muted_category_is_not_pushed_but_still_reaches_the_inbox(world: PushWorld) -> None:
    w = world
    auth, ann = w.player("ann.muted@example.com")
    w.device(auth, ANN_PHONE)
    w.preferences(auth, categories={"REWARD": False}, quiet_hours=None)
    w.notify(ann, 1)
    assert w.deliver()["skipped"] == 1
    assert w.fcm.sent == [] and w.fcm.attempts_to(ANN_PHONE) == 0
    [row] = w.deliveries()
    assert (row["status"], row["last_error"]) == ("SKIPPED", "category muted")
    inbox = w.api.get("/v1/notifications", headers=auth).json()
    assert [n["category"] for n in inbox["data"]] == ["REWARD"] and inbox["meta"]["unread"] == 1

    # Opting in again: the next one is pushed (the muted one stays unpushed).
    w.preferences(auth, categories={"REWARD": True}, quiet_hours=None)
    w.notify(ann, 2)
    assert w.deliver()["sent"] == 1
    assert [s.data["redemption_id"] for s in w.fcm.sent] == ["2"]


def test_quiet_hours_defer_a_push_to_their_end_and_the_tick_sends_it_then(world: PushWorld) -> None:
    """Default quiet hours 22:00-08:00 KST. A notification made at 06:30 KST waits until
    08:00: the tick records nothing for push before, and sends it then."""
    w, p = world, world.p
    p.clock.set(datetime(2026, 11, 23, 21, 30, tzinfo=UTC))  # Tue 06:30 KST
    auth, ann = w.player("ann.quiet@example.com")
    w.device(auth, ANN_PHONE)
    w.notify(ann, 1)
    assert w.deliver()["deferred"] == 1
    assert w.fcm.sent == []
    [row] = w.deliveries()
    end = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)  # 08:00 KST
    assert (row["status"], row["next_attempt_at"], row["attempts"]) == ("PENDING", end, 0)

    jobs = p.container.jobs()
    p.clock.set(end - timedelta(seconds=1))
    assert all(a["step"] != "push.deliver" for a in jobs.tick().details["actions"])
    assert w.deliver().get("sent", 0) == 0 and w.fcm.sent == []

    p.clock.set(end)
    pushes = [a for a in jobs.tick().details["actions"] if a["step"] == "push.deliver"]
    assert len(pushes) == 1 and pushes[0]["sent"] == 1
    assert [s.token for s in w.fcm.sent] == [ANN_PHONE]
    assert all(a["step"] != "push.deliver" for a in jobs.tick().details["actions"])  # nothing due now

    # A player's own window crossing midnight (23:00-07:00): at 23:30 KST it waits for
    # 07:00 the next morning.
    auth, _ = w.player("ann.quiet@example.com")  # a fresh token after the clock moved
    w.preferences(auth, quiet_hours={"start": "23:00", "end": "07:00"})
    p.clock.set(datetime(2026, 11, 24, 14, 30, tzinfo=UTC))  # Tue 23:30 KST
    w.notify(ann, 2)
    assert w.deliver()["deferred"] == 1
    [note2] = w.notification_ids(ann)[1:]
    [waiting] = [d for d in w.deliveries() if d["notification_id"] == note2]
    assert waiting["next_attempt_at"] == datetime(2026, 11, 24, 22, 0, tzinfo=UTC)  # Wed 07:00 KST
    p.clock.set(datetime(2026, 11, 24, 22, 0, tzinfo=UTC))
    assert w.deliver()["sent"] == 1 and len(w.fcm.sent) == 2


def test_passes_run_three_times_and_two_at_once_push_each_notification_to_each_device_once(
    world: PushWorld,
) -> None:
    w, p = world, world.p
    w.configure(push_claim_size=2, push_batch_size=10_000)
    players = [w.player(f"p{i}.concurrent@example.com") for i in range(6)]
    tokens: dict[int, list[str]] = {}
    for i, (auth, user) in enumerate(players):
        tokens[user] = [w.device(auth, f"device-{i}-{k}-token-xxxxxxxx")["token"] for k in range(2)]
    for redemption in range(1, 6):
        for _, user in players:
            w.notify(user, redemption * 100 + user)
    assert len(w.deliveries()) == 6 * 5 * 2
    w.fcm.send_delay_s = 0.005  # sends overlap between the two passes

    results: list[JobResult] = []
    barrier = threading.Barrier(2)

    def one_pass() -> None:
        barrier.wait()
        results.append(p.container.jobs().deliver_push())

    threads = [threading.Thread(target=one_pass) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for _ in range(3):
        w.deliver()

    assert [r.status for r in results] == ["SUCCEEDED", "SUCCEEDED"]
    sent = [(s.token, s.data["notification_id"]) for s in w.fcm.sent]
    assert len(sent) == len(set(sent)) == 60
    expected = {(t, str(n)) for _, u in players for n in w.notification_ids(u) for t in tokens[u]}
    assert set(sent) == expected
    assert sum(int(r.details.get("sent", 0)) for r in results) == 60
    assert all(int(r.details.get("sent", 0)) > 0 for r in results)  # both passes really sent
    assert {d["status"] for d in w.deliveries()} == {"SENT"}
    assert w.fcm.tokens_issued == 1  # both passes shared the process's access token


def test_deactivated_players_and_moved_tokens_get_nothing(world: PushWorld) -> None:
    w, p = world, world.p
    ann_auth, ann = w.player("ann.gone@example.com")
    bob_auth, bob = w.player("bob.gone@example.com")
    w.device(ann_auth, ANN_PHONE)
    w.device(bob_auth, BOB_WEB, "WEB")
    # Made during the default quiet hours: both wait for 08:00 KST.
    p.clock.set(datetime(2026, 11, 23, 21, 30, tzinfo=UTC))
    ann_auth, _ = w.player("ann.gone@example.com")
    bob_auth, _ = w.player("bob.gone@example.com")
    w.notify(ann, 1)
    w.notify(bob, 2)
    assert w.deliver()["deferred"] == 2
    # Meanwhile Bob deletes his account, and Ann's phone is signed in to by Cid.
    assert w.api.delete("/v1/users/me", headers=bob_auth).status_code == 200
    cid_auth, cid = w.player("cid.gone@example.com")
    w.device(cid_auth, ANN_PHONE)
    p.clock.set(datetime(2026, 11, 23, 23, 0, tzinfo=UTC))
    details: dict[str, Any] = w.deliver()
    # Ann's was skipped when her token moved; Bob's by the pass (he is deactivated).
    assert details["skipped"] == 1 and "sent" not in details
    reasons = sorted(d["last_error"] for d in w.deliveries())
    assert reasons == ["player deactivated", "token moved to another account"]
    assert w.fcm.sent == []
    # Cid's own notifications do reach the phone.
    w.notify(cid, 3)
    w.deliver()
    assert [(s.token, s.data["redemption_id"]) for s in w.fcm.sent] == [(ANN_PHONE, "3")]


def test_push_provider_none_skips_and_log_sends_without_fcm(world: PushWorld) -> None:
    w, p = world, world.p
    auth, ann = w.player("ann.none@example.com")
    w.device(auth, ANN_PHONE)
    w.configure(push_provider="none")
    from dependency_injector import providers

    from myapi.providers.push import LogSender, build_push_sender

    p.container.push_sender.override(
        providers.Object(build_push_sender(p.settings, p.container.push_http(), p.clock))
    )
    w.notify(ann, 1)
    details = w.deliver()
    assert details["provider"] == "none" and details["skipped"] == 1
    assert w.deliveries()[0]["last_error"] == "push disabled (PUSH_PROVIDER=none)"

    p.container.push_sender.override(providers.Object(LogSender()))
    w.notify(ann, 2)
    details = w.deliver()
    assert details["provider"] == "log" and details["sent"] == 1
    assert w.fcm.send_requests == [] and w.fcm.token_requests == []


def test_a_pass_stops_after_three_retries_in_a_row_and_the_rest_wait_unharmed(world: PushWorld) -> None:
    """FCM down: a pass does not spend every push's worst case (it may be running in the
    settlement worker); after three RETRY outcomes in a row it releases the rest."""
    w, p = world, world.p
    auth, ann = w.player("ann.outage@example.com")
    w.device(auth, ANN_PHONE)
    w.fcm.always[ANN_PHONE] = unavailable()
    for redemption in range(1, 7):
        w.notify(ann, redemption)
    details = w.deliver()
    assert (details["retry"], details["released"], details["stopped_after_retries"]) == (3, 3, 1)
    assert w.fcm.attempts_to(ANN_PHONE) == 9  # 3 pushes x FCM_MAX_ATTEMPTS
    rows = w.deliveries()
    assert sorted(r["attempts"] for r in rows) == [0, 0, 0, 1, 1, 1]
    assert all(r["status"] == "PENDING" and r["lease_token"] is None for r in rows)

    # FCM is back: the released three go out at once, the retried three after their back-off.
    del w.fcm.always[ANN_PHONE]
    assert w.deliver()["sent"] == 3
    p.clock.advance(timedelta(seconds=p.settings.push_retry_base_s))
    assert w.deliver()["sent"] == 3
    sent = sorted(int(s.data["redemption_id"]) for s in w.fcm.sent)
    assert sent == [1, 2, 3, 4, 5, 6]
