"""POST /admin/eod/backfill: one eod.fetch message per trading day of the range still
lacking closes, fetched by the eod_fetch worker (the scheduler's job), progress per day
from job_runs, resumable, refused for days not closed yet and for ranges too long."""

from __future__ import annotations

from datetime import date
from typing import Any

from dependency_injector import providers
from fastapi.testclient import TestClient
from sqlalchemy import text

from myapi.jobs.repository import JobRunsRepository
from myapi.providers.eod.sandbox import SandboxEodProvider
from tests.support.days import AFTER_CLOSE
from tests.support.factories import add_close
from tests.support.http import bearer, dev_login, error_code
from tests.support.pipeline import Pipeline

WEEK = [date(2026, 11, d) for d in (16, 17, 18, 19, 20)]  # Mon..Fri before the clock's Monday
SYMBOLS = ("AAPL", "MSFT")


def _universe(p: Pipeline, days: list[date], symbols: tuple[str, ...] = SYMBOLS) -> None:
    with p.session() as s:
        for day in days:
            for seq, symbol in enumerate(symbols, start=1):
                s.execute(
                    text("INSERT INTO crypto.active_universe (trading_day, symbol, seq) VALUES (:d, :s, :q)"),
                    {"d": day, "s": symbol, "q": seq},
                )


def _count(p: Pipeline, sql: str, **params: object) -> int:
    return int(str(p.scalar(sql, **params)))


def _post(api: TestClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return api.post("/admin/eod/backfill", json=body, headers=headers)


def _progress(api: TestClient, headers: dict[str, str], backfill_id: int) -> dict[str, Any]:
    r = api.get(f"/admin/eod/backfill/{backfill_id}", headers=headers)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def _states(progress: dict[str, Any]) -> dict[str, str]:
    return {d["trading_day"]: d["state"] for d in progress["days"]}


def test_a_backfill_queues_one_fetch_per_trading_day_and_the_worker_fills_the_closes(
    pipeline: Pipeline, ops_api: TestClient, admin: dict[str, str]
) -> None:
    p = pipeline
    _universe(p, WEEK)
    with p.session() as s:  # Wednesday is already complete: nothing to queue for it
        add_close(s, "AAPL", WEEK[2], "101.000000")
        add_close(s, "MSFT", WEEK[2], "202.000000")

    # Friday the 13th has no universe; the weekends are no trading days.
    r = _post(ops_api, admin, {"from": "2026-11-13", "to": "2026-11-22"})
    assert r.status_code == 202, r.text
    out = r.json()["data"]
    assert (out["from"], out["to"], out["queued"], out["skipped"]) == ("2026-11-13", "2026-11-22", 4, 2)
    assert [(d["trading_day"], d["action"], d["missing"]) for d in out["days"]] == [
        ("2026-11-13", "NO_UNIVERSE", 0),
        ("2026-11-16", "QUEUED", 2),
        ("2026-11-17", "QUEUED", 2),
        ("2026-11-18", "COMPLETE", 0),
        ("2026-11-19", "QUEUED", 2),
        ("2026-11-20", "QUEUED", 2),
    ]
    backfill_id = out["backfill_id"]
    # One eod.fetch request per queued day, committed with the backfill's job run.
    with p.engine.connect() as conn:
        requested = conn.execute(
            text(
                "SELECT payload->>'trading_day' FROM crypto.outbox "
                "WHERE topic = 'eod.fetch.requested' ORDER BY id"
            )
        ).scalars()
        assert list(requested) == ["2026-11-16", "2026-11-17", "2026-11-19", "2026-11-20"]
    assert (
        _count(
            p, "SELECT count(*) FROM crypto.job_runs WHERE id = :i AND job = 'eod.backfill'", i=backfill_id
        )
        == 1
    )

    progress = _progress(ops_api, admin, backfill_id)
    assert progress["status"] == "SUCCEEDED" and progress["finished"] is False
    assert progress["counts"] == {"NO_UNIVERSE": 1, "QUEUED": 4, "COMPLETE": 1}
    assert progress["actor"].startswith("user:") and progress["requested_at"].endswith("+09:00")

    # A worker that crashed in the middle of Monday's fetch left a RUNNING run behind.
    with p.session() as s:
        crashed = JobRunsRepository(s).start("eod.fetch", WEEK[0], p.clock.now())
    assert _states(_progress(ops_api, admin, backfill_id))["2026-11-16"] == "RUNNING"

    p.pump()  # the relay sends the requests, the eod_fetch worker runs Jobs.fetch_eod per day

    progress = _progress(ops_api, admin, backfill_id)
    assert progress["finished"] is True
    assert _states(progress) == {
        "2026-11-13": "NO_UNIVERSE", "2026-11-16": "DONE", "2026-11-17": "DONE",
        "2026-11-18": "COMPLETE", "2026-11-19": "DONE", "2026-11-20": "DONE",
    }  # fmt: skip
    done = [d for d in progress["days"] if d["state"] == "DONE"]
    assert all(d["run_id"] and d["run_id"] > crashed and d["missing"] == 0 for d in done)
    # Every symbol of every day priced once; one eod.fetch run per queued day.
    assert (
        _count(p, "SELECT count(*) FROM crypto.eod_prices WHERE asof BETWEEN '2026-11-16' AND '2026-11-20'")
        == 10
    )
    assert (
        _count(p, "SELECT count(*) FROM crypto.job_runs WHERE job = 'eod.fetch' AND status = 'SUCCEEDED'")
        == 4
    )
    runs = ops_api.get("/admin/jobs?job=eod.fetch", headers=admin).json()["data"]
    assert sorted(r["trading_day"] for r in runs if r["status"] == "SUCCEEDED") == [
        "2026-11-16", "2026-11-17", "2026-11-19", "2026-11-20"
    ]  # fmt: skip

    # The same range again: nothing left to fetch, nothing queued.
    again = _post(ops_api, admin, {"from": "2026-11-13", "to": "2026-11-22"}).json()["data"]
    assert (again["queued"], again["skipped"]) == (0, 6)
    assert _count(p, "SELECT count(*) FROM crypto.outbox WHERE topic = 'eod.fetch.requested'") == 4


def test_posting_the_range_again_continues_with_the_days_still_incomplete(
    pipeline: Pipeline, ops_api: TestClient, admin: dict[str, str]
) -> None:
    p = pipeline
    _universe(p, WEEK)
    # The provider has no MSFT this time: every day is fetched, each one incomplete.
    p.container.eod_providers.override(providers.Object([SandboxEodProvider(unpriced={"MSFT"})]))
    try:
        first = _post(ops_api, admin, {"from": "2026-11-16", "to": "2026-11-20"}).json()["data"]
        assert first["queued"] == 5
        p.pump()
    finally:
        p.container.eod_providers.reset_override()
    progress = _progress(ops_api, admin, first["backfill_id"])
    assert progress["finished"] is True and progress["counts"] == {"INCOMPLETE": 5}
    assert {tuple(d["missing_symbols"]) for d in progress["days"]} == {("MSFT",)}
    assert _count(p, "SELECT count(*) FROM crypto.eod_prices WHERE symbol = 'AAPL'") == 5

    with p.session() as s:  # Tuesday's MSFT arrives another way (e.g. the vendor's webhook)
        add_close(s, "MSFT", WEEK[1], "250.000000", provider="vendor")

    second = _post(ops_api, admin, {"from": "2026-11-16", "to": "2026-11-20"}).json()["data"]
    assert second["backfill_id"] > first["backfill_id"]
    assert [d["action"] for d in second["days"]] == ["QUEUED", "COMPLETE", "QUEUED", "QUEUED", "QUEUED"]
    assert [d["missing"] for d in second["days"]] == [1, 0, 1, 1, 1]
    p.pump()

    progress = _progress(ops_api, admin, second["backfill_id"])
    assert progress["finished"] is True and progress["counts"] == {"DONE": 4, "COMPLETE": 1}
    # The first backfill reads as done too: its days are complete now.
    assert _progress(ops_api, admin, first["backfill_id"])["counts"] == {"DONE": 5}
    # No close fetched twice: AAPL was skipped by the second round.
    assert _count(p, "SELECT count(*) FROM crypto.eod_prices") == 10
    assert _count(p, "SELECT count(*) FROM crypto.eod_prices WHERE provider = 'vendor'") == 1


def test_a_range_with_a_day_not_closed_yet_is_refused_and_queues_nothing(
    pipeline: Pipeline, ops_api: TestClient, admin: dict[str, str]
) -> None:
    p = pipeline
    _universe(p, [*WEEK, date(2026, 11, 23)])
    # The clock: Monday 2026-11-23 10:00 KST, hours before that day's New York close.
    for last in ("2026-11-23", "2026-11-24", "2026-12-31"):
        r = _post(ops_api, admin, {"from": "2026-11-20", "to": last})
        assert r.status_code == 409, r.text
        assert error_code(r) == "CYCLE_002"
        assert r.json()["error"]["details"]["trading_day"] == "2026-11-23"
        assert r.json()["error"]["details"]["possible_from"].endswith("+09:00")
    assert _count(p, "SELECT count(*) FROM crypto.outbox") == 0
    assert (
        _count(p, "SELECT count(*) FROM crypto.job_runs WHERE job = 'eod.backfill' AND status = 'FAILED'")
        == 3
    )

    p.clock.set(AFTER_CLOSE)  # 21:30 UTC: the close (21:00) + EOD_FETCH_DELAY_MIN has passed
    admin = bearer(dev_login(ops_api, "ops.admin@example.com")["access_token"])  # a token of this hour
    r = _post(ops_api, admin, {"from": "2026-11-20", "to": "2026-11-23"})
    assert r.status_code == 202, r.text
    assert [d["trading_day"] for d in r.json()["data"]["days"]] == ["2026-11-20", "2026-11-23"]


def test_bad_ranges_and_bad_input_are_422_and_change_nothing(
    pipeline: Pipeline, ops_api: TestClient, admin: dict[str, str]
) -> None:
    p = pipeline
    _universe(p, WEEK)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"from": "2026-11-20", "to": "2026-11-16"}, "BACKFILL_001"),  # reversed
        ({"from": "2026-06-01", "to": "2026-09-30"}, "BACKFILL_001"),  # 122 days > 92
        ({"from": "2026-11-21", "to": "2026-11-22"}, "BACKFILL_001"),  # a weekend: no trading day
        ({"from": "2019-12-30", "to": "2020-01-03"}, "CYCLE_005"),  # before the calendar
        ({"from": "2026-11-16"}, "SYS_422"),
        ({"from": 1763251200, "to": "2026-11-20"}, "SYS_422"),  # a number is not a date
        ({"from": "2026-11-16", "to": "2026-11-31"}, "SYS_422"),
        ({"from": "2026-11-16", "to": "2026-11-20", "force": True}, "SYS_422"),
        ({"first": "2026-11-16", "last": "2026-11-20"}, "SYS_422"),
    ]
    for body, code in cases:
        r = _post(ops_api, admin, body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["success"] is False and error_code(r) == code, (body, r.text)
    too_long = _post(ops_api, admin, {"from": "2026-06-01", "to": "2026-09-30"}).json()["error"]["details"]
    assert (too_long["days"], too_long["max_days"]) == (122, 92)
    assert _count(p, "SELECT count(*) FROM crypto.outbox") == 0
    assert _count(p, "SELECT count(*) FROM crypto.eod_prices") == 0

    r = ops_api.get("/admin/eod/backfill/999999", headers=admin)
    assert r.status_code == 404 and error_code(r) == "BACKFILL_404"
    with p.session() as s:  # a job run of another job is no backfill
        other = JobRunsRepository(s).start("eod.fetch", WEEK[0], p.clock.now())
    r = ops_api.get(f"/admin/eod/backfill/{other}", headers=admin)
    assert r.status_code == 404 and error_code(r) == "BACKFILL_404"
    r = ops_api.get("/admin/eod/backfill/abc", headers=admin)
    assert r.status_code == 422 and error_code(r) == "SYS_422"
