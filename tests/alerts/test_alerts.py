"""Operator alerts end to end: each kind raised through the real job paths (JobRunner's
failure hook, the alert check run by `Jobs.check_alerts` and the reconcile tick) and
posted over loopback HTTP to a local webhook (tests/support/fake_webhook.py); dedup and
throttling with the clock moved; a refusal is no alert; a failing webhook never changes
a job's outcome and its alert is posted by the next check; two processes at once post
one message."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from batch.worker import Worker
from myapi.admin.repository import CHECKS
from myapi.alerts import templates
from myapi.core.errors import NotFoundError
from myapi.cycle.service import CutoffNotDueError
from myapi.providers.alerts import AlertMessage, payload
from myapi.providers.queue import OutgoingMessage, dlq_name_for
from tests.alerts.conftest import Alerting
from tests.support.days import AFTER_CLOSE, DAY, DEFAULT_NOW, MARKET_CLOSE
from tests.support.factories import add_close, make_user, open_day

THROTTLE = 900
CHECK_EVERY = 300


def _corrupt_ledger(a: Alerting) -> int:
    """One player whose ledger no longer sums to the balance (a corrupted ledger row)."""
    with a.session() as s:
        user = make_user(s, "corrupt@example.com")
    with a.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE crypto.points_ledger SET delta_points = delta_points + 7 WHERE user_id = %s", (user,)
        )
    return user


def _job_runs(a: Alerting, job: str, status: str) -> int:
    sql = "SELECT count(*) FROM crypto.job_runs WHERE job = :j AND status = :s"
    return int(str(a.scalar(sql, j=job, s=status)))


# --- JOB_FAILED ---------------------------------------------------------------------


def _settle_blocked_by_a_lock(a: Alerting) -> None:
    """Settle DAY while another transaction holds its session row: the settlement waits
    past the statement timeout and fails (a real outage, not a refusal)."""
    with a.session() as s:
        open_day(s, a.clock, a.settings, ["AAPL", "MSFT"])
        add_close(s, "AAPL", DAY, "101.000000")
        add_close(s, "MSFT", DAY, "99.000000")
    a.clock.set(AFTER_CLOSE)
    with a.engine.connect() as holder:
        holder.exec_driver_sql(
            "SELECT 1 FROM crypto.session_control WHERE trading_day = %s FOR UPDATE", (DAY,)
        )
        with pytest.raises(OperationalError, match="statement timeout"):
            a.jobs().settle(DAY)
        holder.rollback()


SHORT_STATEMENTS = pytest.mark.parametrize(
    "alert_overrides", [{"db_statement_timeout_ms": 1000}], ids=["statement-timeout-1s"]
)


@SHORT_STATEMENTS
def test_a_failing_job_posts_JOB_FAILED_with_the_job_its_day_run_and_error(alerting: Alerting) -> None:
    a = alerting
    _settle_blocked_by_a_lock(a)
    assert _job_runs(a, "settlement.run", "FAILED") == 1
    run_id = a.scalar("SELECT id FROM crypto.job_runs WHERE job = 'settlement.run'")
    [text] = a.webhook.texts()
    assert text.startswith("*[test] Job failed: settlement.run for 2026-11-23*")
    assert f"run #{run_id}" in text and "trading day 2026-11-23" in text
    assert "QueryCanceled" in text and "statement timeout" in text
    assert "[SQL:" not in text and "crypto.session_control" not in text  # only in job_runs
    assert "Runbook: docs/operations.md#job_failed" in text
    row = a.row("JOB_FAILED:settlement.run:2026-11-23")
    assert row["sent_at"] == AFTER_CLOSE and row["pending"] == 0 and row["claim_token"] is None


def test_a_refused_job_raises_no_alert(alerting: Alerting) -> None:
    a = alerting
    with a.session() as s:
        open_day(s, a.clock, a.settings, ["AAPL"])
    with pytest.raises(CutoffNotDueError):  # CYCLE_003, a 409: the rule's expected answer
        a.jobs().cutoff(DAY)
    with pytest.raises(NotFoundError):  # SETTLE_404
        a.jobs().settle(DAY + timedelta(days=1))
    assert _job_runs(a, "session.cutoff", "FAILED") == 1
    assert _job_runs(a, "settlement.run", "FAILED") == 1
    assert a.webhook.posts == []
    assert a.scalar("SELECT count(*) FROM crypto.admin_alerts") == 0


@SHORT_STATEMENTS
def test_a_failing_webhook_leaves_the_jobs_own_error_and_the_next_check_posts_the_alert(
    alerting: Alerting,
) -> None:
    a = alerting
    a.webhook.fail_next = 3  # every attempt of the one post
    _settle_blocked_by_a_lock(a)  # raises the settlement's own error, not the webhook's
    assert _job_runs(a, "settlement.run", "FAILED") == 1
    assert len(a.webhook.posts) == 3 and a.webhook.delivered == []
    assert a.sleeps == [0.5, 1.0]  # the bounded retry's waits
    row = a.row("JOB_FAILED:settlement.run:2026-11-23")
    assert row["sent_at"] is None and row["pending"] == 1 and row["failed_at"] == AFTER_CLOSE
    assert "HTTP 500 after 3 attempts" in str(row["last_error"])

    a.clock.advance(timedelta(seconds=CHECK_EVERY))
    result = a.jobs().check_alerts()
    assert result.status == "SUCCEEDED"
    assert result.details["alerts"] == {"JOB_FAILED:settlement.run:2026-11-23": "sent"}
    [text] = a.webhook.texts()
    assert "Job failed: settlement.run for 2026-11-23" in text
    assert a.row("JOB_FAILED:settlement.run:2026-11-23")["failed_at"] is None
    # Delivered: the next check has nothing to post again.
    a.clock.advance(timedelta(seconds=CHECK_EVERY))
    assert a.jobs().check_alerts().details["alerts"] == {}
    assert len(a.webhook.delivered) == 1


# --- DLQ_DEPTH ----------------------------------------------------------------------


def test_a_dead_lettered_message_posts_DLQ_DEPTH(alerting: Alerting) -> None:
    a = alerting
    queue = a.container.queue()
    name = a.settings.queue_names["eod_fetch"]
    dlq = dlq_name_for(name)
    queue.send_batch(name, [OutgoingMessage("not json")])
    worker = Worker(a.container, "eod_fetch")
    for _ in range(6):  # maxReceiveCount is 2: the third receive moves it to the DLQ
        worker.poll_once(0)
        if sum(queue.depth(dlq).values()):
            break
    assert sum(queue.depth(dlq).values()) == 1

    result = a.jobs().check_alerts()
    assert result.status == "SUCCEEDED"
    assert result.details["dlq"][dlq] == 1
    assert result.details["alerts"] == {f"DLQ_DEPTH:{dlq}": "sent"}
    [text] = a.webhook.texts()
    assert text.startswith(f"*[test] Dead-letter queue {dlq}: 1 message(s)*")
    assert f"the dead letters of {name}" in text and "alert above 0" in text
    assert "Runbook: docs/operations.md#dlq_depth" in text


@pytest.mark.parametrize("alert_overrides", [{"alert_dlq_threshold": 1}], ids=["threshold-1"])
def test_a_dlq_at_its_threshold_is_no_alert(alerting: Alerting) -> None:
    a = alerting
    queue = a.container.queue()
    dlq = dlq_name_for(a.settings.queue_names["settlement_compute"])
    queue.send_batch(dlq, [OutgoingMessage("{}")])
    result = a.jobs().check_alerts()
    assert result.details["dlq"][dlq] == 1 and result.details["alerts"] == {}
    queue.send_batch(dlq, [OutgoingMessage("{}")])
    a.clock.advance(timedelta(seconds=CHECK_EVERY))
    assert a.jobs().check_alerts().details["alerts"] == {f"DLQ_DEPTH:{dlq}": "sent"}
    assert "2 message(s)" in a.webhook.texts()[0] and "alert above 1" in a.webhook.texts()[0]


# --- EOD_MISSING --------------------------------------------------------------------


def test_a_close_missing_past_the_void_deadline_posts_EOD_MISSING_from_the_tick(alerting: Alerting) -> None:
    a = alerting
    with a.session() as s:
        open_day(s, a.clock, a.settings, ["AAPL", "MSFT", "NVDA"])
        add_close(s, "AAPL", DAY, "101.000000")
        add_close(s, "MSFT", DAY, "99.000000")
    deadline = MARKET_CLOSE + timedelta(minutes=a.settings.eod_void_deadline_min)
    a.clock.set(deadline - timedelta(minutes=10))
    early = a.jobs().check_alerts()  # before the deadline: still being fetched, no alert
    assert early.details["eod_missing"] == [] and a.webhook.posts == []

    a.clock.set(deadline + timedelta(minutes=1))
    tick = a.jobs().tick().details
    assert [x["step"] for x in tick["actions"]] == ["cutoff", "settlement.request"]
    assert tick["alerts"]["sent"] == 1
    [text] = a.webhook.texts()
    assert text.startswith("*[test] EOD prices missing past the deadline: 2026-11-23*")
    assert "missing 1 of 3 symbols: NVDA" in text
    assert "(close + EOD_VOID_DEADLINE_MIN 180 min)" in text and "not settled yet" in text
    assert "Runbook: docs/operations.md#eod_missing" in text
    checked = a.scalar(
        "SELECT array_agg(DISTINCT trading_day) FROM crypto.job_runs WHERE job = 'alerts.check'"
    )
    assert checked == [DAY]  # each check is recorded with the day it checked

    # Settled VOID for the missing price: still missing, said so once the throttle lets it.
    a.jobs().settle(DAY)
    a.clock.advance(timedelta(seconds=THROTTLE))
    assert a.jobs().check_alerts().details["alerts"] == {"EOD_MISSING:2026-11-23": "sent"}
    second = a.webhook.texts()[1]
    assert "settled: their predictions are VOID" in second and "NVDA" in second


def test_the_tick_runs_the_check_at_most_every_interval_and_keeps_its_actions(alerting: Alerting) -> None:
    a = alerting
    first = a.jobs().tick().details
    assert [x["step"] for x in first["actions"]] == ["open"]
    assert first["alerts"]["sent"] == 0
    a.clock.advance(timedelta(seconds=CHECK_EVERY - 1))
    second = a.jobs().tick().details
    assert "alerts" not in second  # not due: the tick is what it always was
    assert [x["step"] for x in second["actions"]] == ["universe.refresh_baselines"]
    a.clock.advance(timedelta(seconds=1))
    assert "alerts" in a.jobs().tick().details
    assert _job_runs(a, "alerts.check", "SUCCEEDED") == 2


# --- INTEGRITY_FAILED ---------------------------------------------------------------


def test_a_corrupted_ledger_row_posts_INTEGRITY_FAILED(alerting: Alerting) -> None:
    a = alerting
    _corrupt_ledger(a)
    result = a.jobs().check_alerts()
    assert result.status == "SUCCEEDED"
    failing = result.details["integrity_failed"]
    assert "balance_equals_ledger_sum" in failing
    [text] = a.webhook.texts()
    assert text.startswith(f"*[test] Integrity check failed: {len(failing)} of {len(CHECKS)} invariants*")
    assert "• balance_equals_ledger_sum: 1 offending row(s)" in text
    assert "Trading day: 2026-11-23" in text and "Runbook: docs/operations.md#integrity_failed" in text


# --- dedup and throttling -----------------------------------------------------------


def test_the_same_key_is_posted_once_per_throttle_window_then_with_the_count_held_back(
    alerting: Alerting,
) -> None:
    a = alerting
    _corrupt_ledger(a)
    key = next(iter(a.jobs().check_alerts().details["alerts"]))
    assert len(a.webhook.delivered) == 1
    for _ in range(2):  # within the window: counted, not posted
        a.clock.advance(timedelta(seconds=CHECK_EVERY))
        assert a.jobs().check_alerts().details["alerts"] == {key: "held"}
    assert len(a.webhook.delivered) == 1
    a.clock.set(DEFAULT_NOW + timedelta(seconds=THROTTLE))  # the window has passed
    assert a.jobs().check_alerts().details["alerts"] == {key: "sent"}
    first, second = a.webhook.texts()
    assert "more since" not in first
    assert second.startswith("*[test] Integrity check failed") and "(+2 more since 10:00 KST)*" in second
    row = a.row(key)
    assert (row["occurrences"], row["pending"], row["sends"]) == (4, 0, 2)


@pytest.mark.parametrize("alert_overrides", [{"alert_throttle_s": 0}], ids=["no-throttle"])
def test_with_no_throttle_every_occurrence_is_posted(alerting: Alerting) -> None:
    a = alerting
    _corrupt_ledger(a)
    for _ in range(3):
        a.jobs().check_alerts()
    assert len(a.webhook.delivered) == 3


def test_two_processes_seeing_the_same_condition_at_once_post_one_message(alerting: Alerting) -> None:
    a = alerting
    alert = templates.dlq_depth("test", DAY, "q-x", "q-x-dlq", {"visible": 1}, 0)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def occur() -> None:
        service = a.service()  # each its own connections, as another process
        barrier.wait()
        outcomes.append(service.raise_alert(alert))

    threads = [threading.Thread(target=occur) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["held"] * 7 + ["sent"]
    assert len(a.webhook.posts) == 1
    row = a.row(alert.key)
    assert (row["occurrences"], row["pending"], row["sends"]) == (8, 7, 1)


def test_an_occurrence_while_another_process_is_posting_it_is_held_for_the_next_message(
    alerting: Alerting,
) -> None:
    a = alerting
    alert = templates.dlq_depth("test", DAY, "q-x", "q-x-dlq", {"visible": 1}, 0)
    a.webhook.gated = True
    first: list[str] = []
    poster = threading.Thread(target=lambda: first.append(a.service().raise_alert(alert)))
    poster.start()
    a.webhook.wait_gated()  # the first process has claimed the key and is posting
    assert a.service().raise_alert(alert) == "held"
    a.webhook.open_gate()
    poster.join()
    assert first == ["sent"] and len(a.webhook.posts) == 1
    a.clock.advance(timedelta(seconds=THROTTLE))
    assert a.service().raise_alert(alert) == "sent"
    assert "(+1 more since 10:00 KST)" in a.webhook.texts()[1]


# --- a failing webhook --------------------------------------------------------------


def test_a_webhook_answering_500_fails_no_check_and_the_next_check_posts_it(alerting: Alerting) -> None:
    a = alerting
    _corrupt_ledger(a)
    a.webhook.fail_next = 3
    result = a.jobs().check_alerts()
    assert result.status == "SUCCEEDED"
    key = next(iter(result.details["alerts"]))
    assert result.details["alerts"] == {key: "failed"} and a.webhook.delivered == []
    a.clock.advance(timedelta(seconds=CHECK_EVERY))
    tick = a.jobs().tick().details  # the tick's next check
    assert tick["alerts"]["sent"] == 1
    [text] = a.webhook.texts()
    assert "Integrity check failed" in text and "(+1 more since 10:00 KST)" in text
    assert _job_runs(a, "alerts.check", "FAILED") == 0


def test_a_429_waits_its_retry_after_and_a_discord_style_204_is_delivered(alerting: Alerting) -> None:
    a = alerting
    a.webhook.style = "discord"
    a.webhook.fail_next, a.webhook.fail_status, a.webhook.retry_after = 1, 429, "1.5"
    _corrupt_ledger(a)
    assert a.jobs().check_alerts().details["sent"] == 1
    assert len(a.webhook.posts) == 2 and len(a.webhook.delivered) == 1
    assert a.sleeps == [1.5]


def test_a_webhook_refusing_the_message_is_not_retried(alerting: Alerting) -> None:
    a = alerting
    a.webhook.fail_next, a.webhook.fail_status = 5, 404  # a deleted webhook
    _corrupt_ledger(a)
    assert a.jobs().check_alerts().details["failed"] == 1
    assert len(a.webhook.posts) == 1 and a.sleeps == []


# --- the payload --------------------------------------------------------------------


def test_the_post_carries_slack_and_discord_keys_and_never_logs_the_webhook_url(
    alerting: Alerting, caplog: pytest.LogCaptureFixture
) -> None:
    a = alerting
    _corrupt_ledger(a)
    with caplog.at_level("DEBUG"):
        a.jobs().check_alerts()
    [posted] = a.webhook.delivered
    assert posted.headers["content-type"] == "application/json"
    assert set(posted.body) == {"text", "content", "username"}
    assert posted.body["username"] == "OX Universe"
    assert posted.body["content"] == posted.body["text"]
    assert posted.body["text"].startswith("*[test] Integrity check failed")
    assert not [r for r in caplog.records if "s3cr3t-hook-token" in r.getMessage()]
    assert any("<alert webhook>" in r.getMessage() for r in caplog.records if r.name == "httpx")


def test_a_long_message_fits_discords_content_limit() -> None:
    body = payload(AlertMessage("title", tuple("x" * 100 for _ in range(60))))
    assert len(body["content"]) == 2000 and body["content"].endswith("…")
    assert len(body["text"]) > 2000 and json.dumps(body)
