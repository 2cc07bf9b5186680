"""Edges of the jobs: what a step does when its day is unusual, whatever triggers it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from myapi.container import Container
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.events.catalogue import Topic
from myapi.jobs.definitions import InvalidPayloadError
from tests.support.factories import add_close, make_user, open_day, predict
from tests.support.http import bearer, dev_login, internal

FRIDAY = date(2026, 11, 20)
MONDAY = date(2026, 11, 23)


def _requested(db: Session, topic: str) -> list[str]:
    rows = db.execute(
        text("SELECT payload->>'trading_day' FROM crypto.outbox WHERE topic = :t"), {"t": topic}
    )
    return [r[0] for r in rows]


def test_a_close_fetched_at_open_for_a_settled_day_asks_for_its_resettlement(
    db: Session, clock: FrozenClock, settings: Settings, container: Container
) -> None:
    # Friday: MSFT had no close when Friday settled, so its prediction settled VOID.
    clock.set(datetime(2026, 11, 20, 1, 0, tzinfo=UTC))
    open_day(db, clock, settings, ["AAPL", "MSFT"], trading_day=FRIDAY)
    predict(db, clock, settings, make_user(db, "late.price@example.com"), "MSFT", "UP")
    add_close(db, "AAPL", FRIDAY, "120.000000")
    clock.set(datetime(2026, 11, 21, 3, 0, tzinfo=UTC))  # Saturday: past Friday's void deadline
    container.settlement_service(db).settle(FRIDAY)
    db.flush()
    assert db.execute(text("SELECT void_reason FROM crypto.predictions")).scalar_one() == "EOD_MISSING"

    # Monday's open fetches Friday's closes for its universe, MSFT's among them: Friday
    # must be settled again (through the queue), or that prediction would stay VOID.
    details = container.jobs().open_day(MONDAY).details
    assert details["opened"] is True and details["previous_closes_fetched"] > 0
    assert _requested(db, Topic.SETTLEMENT_REQUESTED) == [FRIDAY.isoformat()]


def test_fetching_a_day_that_was_never_opened_asks_for_no_settlement(
    db: Session, clock: FrozenClock, container: Container
) -> None:
    clock.set(datetime(2026, 11, 21, 3, 0, tzinfo=UTC))
    result = container.jobs().fetch_eod(FRIDAY)
    assert result.details["missing"] == [] and result.details["requested"] == 0
    assert _requested(db, Topic.SETTLEMENT_REQUESTED) == []


def test_a_payload_that_does_not_fit_its_topic_is_invalid(container: Container) -> None:
    with pytest.raises(InvalidPayloadError, match="settlement.requested"):
        container.jobs().handle(Topic.SETTLEMENT_REQUESTED, {"trading_day": "not-a-day"})


def test_an_early_cutoff_of_a_day_without_a_session_is_404(client: TestClient) -> None:
    admin = bearer(dev_login(client, "ops2@example.com", role="ADMIN")["access_token"])
    r = client.post("/admin/sessions/2026-11-23/early-cutoff", json={"reason": "halt"}, headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "CYCLE_404"


@pytest.mark.parametrize("day", ["2019-12-31", "2099-01-05"])
def test_a_day_outside_the_calendar_is_422_with_the_supported_range(
    client: TestClient, settings: Settings, day: str
) -> None:
    r = client.post(
        "/internal/session/flip-to-predict", json={"trading_day": day}, headers=internal(settings)
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "CYCLE_005" and error["details"]["date"] == day
    assert error["details"]["supported_from"] == "2020-01-02"
