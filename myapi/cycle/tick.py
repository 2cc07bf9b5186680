"""The self-healing daily cycle (SPEC §2): `tick()` looks at the calendar, the clock and
the database and does whatever is due and not done, in order:

1. cut off every open session whose cutoff has passed;
2. for each closed, unsettled day (close + EOD_FETCH_DELAY_MIN passed): ask for an EOD
   fetch while prices are missing and the VOID deadline has not passed, otherwise ask
   for settlement — each request at most once per CYCLE_RETRY_INTERVAL_MIN;
3. open the current trading day (default universe if none) once the previous trading
   day is settled (or was never opened: a fresh system starts at once).

Safe to call any time, any number of times; a missed or doubled tick changes nothing.
Fetch and settlement go through the queue (outbox -> SQS -> worker).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from myapi.core.clock import Clock
from myapi.core.config import Settings
from myapi.core.db import unit_of_work
from myapi.cycle.calendar import MarketCalendar
from myapi.cycle.jobs import JobRunner
from myapi.cycle.repository import CycleRepository, SessionsRepository
from myapi.cycle.service import SessionService
from myapi.market.repository import MarketRepository
from myapi.outbox.repository import OutboxRepository
from myapi.universe.repository import UniverseRepository
from myapi.universe.service import UniverseService

CYCLE_ACTOR = "internal:cycle"
EOD_FETCH_TOPIC = "eod.fetch.requested"
SETTLEMENT_TOPIC = "settlement.requested"


def _request(session: Session, clock: Clock, topic: str, trading_day: date) -> dict[str, Any]:
    """Queue a job for the day: an outbox event, committed with the caller's work."""
    now = clock.now()
    OutboxRepository(session).add(
        topic,
        {"trading_day": trading_day.isoformat()},
        now=now,
        dedup_id=f"{topic}-{trading_day.isoformat()}-{int(now.timestamp())}",
    )
    return {"trading_day": trading_day.isoformat(), "requested": topic}


def request_eod_fetch(session: Session, clock: Clock, trading_day: date) -> dict[str, Any]:
    return _request(session, clock, EOD_FETCH_TOPIC, trading_day)


def request_settlement(session: Session, clock: Clock, trading_day: date) -> dict[str, Any]:
    return _request(session, clock, SETTLEMENT_TOPIC, trading_day)


class CycleService:
    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Clock,
        settings: Settings,
        calendar: MarketCalendar,
    ) -> None:
        self._factory = factory
        self._clock = clock
        self._settings = settings
        self._calendar = calendar
        self._jobs = JobRunner(factory, clock)

    def _sessions(self, session: Session) -> SessionService:
        return SessionService(session, self._clock, self._settings, self._calendar)

    def tick(self) -> list[dict[str, Any]]:
        now = self._clock.now()
        actions: list[dict[str, Any]] = []
        retry = timedelta(minutes=self._settings.cycle_retry_interval_min)

        with unit_of_work(self._factory) as session:
            to_cut = CycleRepository(session).open_past_cutoff(now)
        for day in to_cut:
            result = self._jobs.run("session.cutoff", partial(self._cutoff, day=day), day)
            actions.append({"step": "cutoff", **result.details})

        fetch_after = now - timedelta(minutes=self._settings.eod_fetch_delay_min)
        with unit_of_work(self._factory) as session:
            repo = CycleRepository(session)
            due: list[tuple[date, bool, datetime | None]] = []
            for row in repo.unsettled_closed(fetch_after):
                universe = {u.symbol for u in UniverseRepository(session).list_for_day(row.trading_day)}
                complete = universe <= MarketRepository(session).priced_symbols(row.trading_day)
                deadline = row.market_close_at + timedelta(minutes=self._settings.eod_void_deadline_min)
                job = "settlement.request" if complete or now >= deadline else "eod.fetch.request"
                last = repo.last_request(job, row.trading_day)
                due.append((row.trading_day, job == "settlement.request", last))
        for day, settle, last in due:
            if last is not None and now - last < retry:
                continue
            if settle:
                work = partial(request_settlement, clock=self._clock, trading_day=day)
                result = self._jobs.run("settlement.request", work, day)
            else:
                work = partial(request_eod_fetch, clock=self._clock, trading_day=day)
                result = self._jobs.run("eod.fetch.request", work, day)
            actions.append({"step": result.job, **result.details})

        today = self._calendar.trading_day_for(now)
        with unit_of_work(self._factory) as session:
            sessions = SessionsRepository(session)
            exists = sessions.get(today) is not None
            previous = sessions.get(self._calendar.previous_trading_day(today))
        if not exists and (previous is None or previous.settled_at is not None):
            result = self._jobs.run("session.open", lambda s: self._open(s, today), today)
            actions.append({"step": "open", **result.details})

        self._jobs.run("cycle.tick", lambda _s: {"actions": actions})
        return actions

    def _cutoff(self, session: Session, day: date) -> dict[str, Any]:
        return self._sessions(session).cutoff(day)

    def _open(self, session: Session, day: date) -> dict[str, Any]:
        universe_set = UniverseService(session, self._clock, self._settings, self._calendar).ensure_default(
            day, actor=CYCLE_ACTOR
        )
        return {**self._sessions(session).open(day), "default_universe_set": universe_set}
