"""Property tests: random days of submit / cancel / ad / replayed receipt / wait (and, in
some, the session closing) against a small reference model of the rules in docs/api.md
"Slots, ads and cooldown". After every step, every field /v1/ads/status shows and the
outcome of the action (accepted, with its numbers, or which error and its details) must
equal the model's.

The model is written here, independently of myapi.slots.policy: it keeps the four
counters and the timer and steps time forward one cooldown period at a time.

* `test_the_service_layer_follows_the_model`: 1,000 sequences through SlotService /
  PredictionService over real PostgreSQL, each example in its own rolled-back session.
* `test_the_http_api_follows_the_model`: 100 sequences through the HTTP API.

Both are derandomized (the same examples every run). On a failure hypothesis prints the
shrunk sequence and a `@reproduce_failure(...)` blob (print_blob): paste it above the
test to replay exactly that example.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.enums import Choice
from myapi.core.errors import AppError
from myapi.cycle.calendar import get_market_calendar
from myapi.cycle.repository import SessionsRepository
from myapi.predictions.service import PredictionService
from myapi.slots.service import AdReceipt, SlotService
from tests.support.days import DAY
from tests.support.factories import make_user, open_day
from tests.support.http import dev_login
from tests.support.slots import MANY_SYMBOLS, cancel, dev_receipt, slot_status, submit, unlock

pytestmark = pytest.mark.slow

# --- the rules, as plain numbers -----------------------------------------------------------

BASE = 3
MAX_ADS = 7
COOLDOWN = timedelta(minutes=5)
RECEIPT_WINDOW_S = 300
KST = ZoneInfo("Asia/Seoul")
_serial: Iterator[int] = itertools.count(1)  # unique e-mails


def kst(at: datetime) -> str:
    return at.astimezone(KST).isoformat()


# An outcome: ("OK", what the call returns) or (error code, the details that matter).
Outcome = tuple[str, Any]


@dataclass
class Model:
    """One player's day, by the rules: 3 base slots; +1 per ad, at most 7 ads; while
    fewer than 3 are available a 5-minute timer runs and each time it elapses one slot
    comes back (no cap), until 3 are available. Ads only while the session accepts
    predictions (PREDICT and before the cutoff)."""

    now: datetime
    cutoff: datetime
    predict_phase: bool = True
    used: int = 0
    ads: int = 0
    recoveries: int = 0
    timer_started: datetime | None = None  # when the running cooldown period began
    live: set[str] = field(default_factory=set)
    receipts: list[int] = field(default_factory=list)  # issued_at of each receipt sent
    spent: set[int] = field(default_factory=set)  # indexes of accepted receipts

    def available(self) -> int:
        return BASE + self.ads + self.recoveries - self.used

    def accepting(self) -> bool:
        return self.predict_phase and self.now < self.cutoff

    def advance(self, to: datetime) -> None:
        self.now = to
        while self.timer_started is not None and self.timer_started + COOLDOWN <= self.now:
            self.recoveries += 1
            self.timer_started += COOLDOWN
            if self.available() >= BASE:
                self.timer_started = None

    def _after_change(self) -> None:
        if self.available() >= BASE:
            self.timer_started = None
        elif self.timer_started is None:
            self.timer_started = self.now

    def cooldown_until(self) -> str | None:
        return None if self.timer_started is None else kst(self.timer_started + COOLDOWN)

    def status(self) -> dict[str, Any]:
        return {
            "trading_day": DAY.isoformat(),
            "base": BASE,
            "used": self.used,
            "ad_unlocks_used": self.ads,
            "ad_unlocks_max": MAX_ADS,
            "cooldown_unlocks": self.recoveries,
            "capacity": BASE + self.ads + self.recoveries,
            "available": self.available(),
            "cooldown_until": self.cooldown_until(),
            "can_unlock": self.ads < MAX_ADS and self.accepting(),
        }

    def submit(self, symbol: str) -> Outcome:
        if not self.accepting():
            return ("PRED_001", None)
        if symbol in self.live:
            return ("PRED_005", None)
        if self.available() == 0:
            if self.timer_started is None:
                return ("PRED_002", None)
            return ("PRED_003", self.cooldown_until())
        self.used += 1
        self.live.add(symbol)
        self._after_change()
        return ("OK", self.available())

    def cancel(self, symbol: str) -> Outcome:
        if not self.accepting():
            return ("PRED_001", None)
        if symbol not in self.live:
            return ("PRED_404", None)
        self.used -= 1
        self.live.remove(symbol)
        self._after_change()
        return ("OK", self.available())

    def new_receipt(self) -> int:
        self.receipts.append(int(self.now.timestamp()))
        return len(self.receipts) - 1

    def ad(self, receipt: int) -> Outcome:
        if abs(self.now.timestamp() - self.receipts[receipt]) > RECEIPT_WINDOW_S:
            return ("AD_002", None)
        if not self.accepting():
            details: dict[str, Any] = {
                "trading_day": DAY.isoformat(),
                "phase": "PREDICT" if self.predict_phase else "SETTLE",
                "predict_cutoff_at": kst(self.cutoff),
                "reason": "PAST_CUTOFF" if self.now >= self.cutoff else "NOT_PREDICT_PHASE",
            }
            return ("AD_005", details)
        if receipt in self.spent:
            return ("AD_003", None)
        if self.ads >= MAX_ADS:
            return ("AD_004", {"ad_unlocks_used": self.ads})
        self.ads += 1
        self.spent.add(receipt)
        self._after_change()
        return ("OK", self.status())


# --- the actions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Submit:
    pick: int
    fresh: bool  # a symbol without a live prediction (else any symbol: maybe PRED_005)


@dataclass(frozen=True)
class Cancel:
    pick: int
    live: bool  # one of the live predictions (else any symbol: maybe PRED_404)


@dataclass(frozen=True)
class Ad:
    """Watch an ad: a receipt signed now, sent at once."""


@dataclass(frozen=True)
class Replay:
    """Send the last receipt again (replayed, stale, or never accepted)."""


@dataclass(frozen=True)
class Wait:
    seconds: int


Action = Submit | Cancel | Ad | Replay | Wait

_submit = st.builds(Submit, st.integers(0, 999), st.sampled_from([True, True, True, False]))
_cancel = st.builds(Cancel, st.integers(0, 999), st.sampled_from([True, True, False]))
_wait = st.one_of(
    st.integers(0, 20).map(lambda m: Wait(60 * m)),  # whole minutes: on the 5-minute marks
    st.integers(1, 900).map(Wait),
)
# Weighted by repetition (sampled_from draws uniformly): mostly submits and waits.
_KINDS: dict[str, st.SearchStrategy[Action]] = {
    "submit": _submit,
    "wait": _wait,
    "ad": st.just(Ad()),
    "cancel": _cancel,
    "replay": st.just(Replay()),
}
_WEIGHTS = {"submit": 10, "wait": 6, "ad": 3, "cancel": 2, "replay": 1}
ACTIONS: st.SearchStrategy[Action] = st.sampled_from(
    [kind for kind, weight in _WEIGHTS.items() for _ in range(weight)]
).flatmap(_KINDS.__getitem__)


@dataclass(frozen=True)
class Scenario:
    minutes_before_cutoff: int  # when the day starts (some sequences cross the cutoff)
    actions: list[Action]
    close_at: int | None  # before which action the session goes to SETTLE, if any


SCENARIOS = st.builds(
    Scenario,
    st.integers(0, 13 * 60),
    st.lists(ACTIONS, min_size=15, max_size=60),
    st.one_of(st.none(), st.none(), st.none(), st.integers(0, 60)),
)


# --- the system under test, behind one interface ---------------------------------------------


class Player(Protocol):
    def submit(self, symbol: str) -> Outcome: ...
    def cancel(self, symbol: str) -> Outcome: ...
    def new_receipt(self) -> None: ...
    def send_last_receipt(self) -> Outcome: ...
    def close_session(self) -> None: ...
    def status(self) -> dict[str, Any]: ...


def _outcome(code: str, details: Any) -> Outcome:
    """An error as the model states it: the details that carry meaning."""
    if code == "PRED_003":
        return (code, details["cooldown_until"])
    if code in ("AD_004", "AD_005"):
        return (code, details)
    return (code, None)


def run(scenario: Scenario, player: Player, clock: FrozenClock, cutoff: datetime, last: datetime) -> None:
    """Play the scenario on the player and on the model; compare after every step."""
    model = Model(now=clock.now(), cutoff=cutoff)
    trace: list[str] = []

    def check(step: str, got: Outcome | None, expected: Outcome | None) -> None:
        trace.append(f"{kst(model.now)} {step}: {expected}")
        assert got == expected, "\n".join(trace)
        status = player.status()
        assert status == model.status(), "\n".join(trace)

    check("start", None, None)
    for i, action in enumerate(scenario.actions):
        if scenario.close_at == i:
            player.close_session()
            model.predict_phase = False
            check("the session goes to SETTLE", None, None)
        if isinstance(action, Wait):
            to = min(model.now + timedelta(seconds=action.seconds), last)
            clock.set(to)
            model.advance(to)
            check(f"wait {action.seconds}s", None, None)
        elif isinstance(action, Submit):
            free = [s for s in MANY_SYMBOLS if s not in model.live] if action.fresh else []
            pool = free or list(MANY_SYMBOLS)
            symbol = pool[action.pick % len(pool)]
            check(f"submit {symbol}", player.submit(symbol), model.submit(symbol))
        elif isinstance(action, Cancel):
            pool = sorted(model.live) if action.live and model.live else list(MANY_SYMBOLS)
            symbol = pool[action.pick % len(pool)]
            check(f"cancel {symbol}", player.cancel(symbol), model.cancel(symbol))
        elif isinstance(action, Ad):
            player.new_receipt()
            receipt = model.new_receipt()
            check("ad", player.send_last_receipt(), model.ad(receipt))
        elif model.receipts:  # Replay
            check("replay the last receipt", player.send_last_receipt(), model.ad(len(model.receipts) - 1))


PROPERTY_SETTINGS = hypothesis_settings(
    deadline=None,
    derandomize=True,  # the same examples every run
    database=None,  # no .hypothesis/ directory; replay a failure with its printed blob
    print_blob=True,
    report_multiple_bugs=False,  # shrink one failure, sooner
    # The fixtures hold the day (opened once per test); each example brings its own
    # player and undoes its writes, so sharing them between examples is intended.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# A failure is shrunk before it is reported, which takes minutes: room beyond pytest.ini's 300 s.
SHRINK_ROOM = pytest.mark.timeout(1200)


@dataclass(frozen=True)
class BigDay:
    """The default day with a 40-symbol universe, opened (PREDICT) at 10:00 KST, and
    what the examples need to play on it (one argument: a short failure report)."""

    clock: FrozenClock
    settings: Settings
    db: Session
    sessions: sessionmaker[Session]  # sessions on the test's connection, rolled back with it
    cutoff: datetime
    last: datetime  # the last instant a sequence reaches: before the market close

    def __repr__(self) -> str:
        return f"BigDay(cutoff={kst(self.cutoff)})"

    def start(self, scenario: Scenario) -> None:
        self.clock.set(self.cutoff - timedelta(minutes=scenario.minutes_before_cutoff))

    def play(self, scenario: Scenario, player: Player) -> None:
        run(scenario, player, self.clock, self.cutoff, self.last)


@pytest.fixture
def big_day(
    db: Session, clock: FrozenClock, settings: Settings, rollback_sessionmaker: sessionmaker[Session]
) -> BigDay:
    day = open_day(db, clock, settings, MANY_SYMBOLS)
    row = SessionsRepository(db).get(day)
    assert row is not None and day == DAY
    last = row.market_close_at - timedelta(seconds=1)
    return BigDay(clock, settings, db, rollback_sessionmaker, row.predict_cutoff_at, last)


# --- through the service layer --------------------------------------------------------------


class ServicePlayer:
    """The services the routes call, each action in a savepoint that an error rolls back
    (as a request's transaction would be)."""

    def __init__(self, session: Session, clock: FrozenClock, settings: Settings, user_id: int) -> None:
        self._session, self._clock, self._settings, self._user_id = session, clock, settings, user_id
        self._calendar = get_market_calendar()
        self._receipt: AdReceipt | None = None

    def _slots(self) -> SlotService:
        return SlotService(self._session, self._clock, self._settings, self._calendar)

    def _predictions(self) -> PredictionService:
        return PredictionService(self._session, self._clock, self._settings, self._calendar)

    def _do(self, call: Callable[[], Any]) -> Outcome:
        try:
            with self._session.begin_nested():
                return ("OK", call())
        except AppError as error:
            return _outcome(error.code, error.details)

    def submit(self, symbol: str) -> Outcome:
        return self._do(lambda: self._predictions().submit(self._user_id, symbol, Choice.UP).remaining_slots)

    def cancel(self, symbol: str) -> Outcome:
        return self._do(lambda: self._predictions().cancel(self._user_id, symbol))

    def new_receipt(self) -> None:
        self._receipt = self._slots().dev_receipt(self._user_id)

    def send_last_receipt(self) -> Outcome:
        receipt = self._receipt
        assert receipt is not None
        return self._do(lambda: self._slots().unlock_by_ad(self._user_id, receipt).model_dump(mode="json"))

    def close_session(self) -> None:
        SessionsRepository(self._session).flip_to_settle(DAY, self._clock.now())

    def status(self) -> dict[str, Any]:
        return self._slots().status(self._user_id).model_dump(mode="json")

    def check_rows(self) -> None:
        """The stored rows agree with what was materialised: one AD row per ad, the
        COOLDOWN rows add up to the stored recoveries."""
        row = self._session.execute(
            text(
                "SELECT ad_unlocks, cooldown_unlocks FROM crypto.user_limits "
                "WHERE user_id = :u AND trading_day = :d"
            ),
            {"u": self._user_id, "d": DAY},
        ).first()
        unlocks = self._session.execute(
            text(
                "SELECT coalesce(sum(unlocked_slots) FILTER (WHERE method = 'AD'), 0) AS ads, "
                "coalesce(sum(unlocked_slots) FILTER (WHERE method = 'COOLDOWN'), 0) AS recovered "
                "FROM crypto.ad_unlocks WHERE user_id = :u"
            ),
            {"u": self._user_id},
        ).one()
        ads, recovered = (0, 0) if row is None else (row.ad_unlocks, row.cooldown_unlocks)
        assert (unlocks.ads, unlocks.recovered) == (ads, recovered)


@SHRINK_ROOM
@given(scenario=SCENARIOS)
@hypothesis_settings(PROPERTY_SETTINGS, max_examples=1000)
def test_the_service_layer_follows_the_model(scenario: Scenario, big_day: BigDay) -> None:
    # Each example: a new player in its own session, rolled back at the end.
    big_day.start(scenario)
    session = big_day.sessions()
    try:
        user_id = make_user(session, f"prop.service.{next(_serial)}@example.com", balance=0)
        player = ServicePlayer(session, big_day.clock, big_day.settings, user_id)
        big_day.play(scenario, player)
        player.check_rows()
    finally:
        session.rollback()
        session.close()


# --- through the HTTP API ---------------------------------------------------------------------


class HttpPlayer:
    """A player of the real app: dev login, the dev receipt route, /v1/ads/status."""

    def __init__(self, client: TestClient, clock: FrozenClock, db: Session) -> None:
        self._client, self._clock, self._db = client, clock, db
        self._email = f"prop.http.{next(_serial)}@example.com"
        self._login()
        self._receipt: dict[str, Any] | None = None

    def _login(self) -> None:
        self._token = str(dev_login(self._client, self._email)["access_token"])
        self._token_at = self._clock.now()

    def _auth(self) -> str:
        if self._clock.now() - self._token_at > timedelta(minutes=50):  # tokens live an hour
            self._login()
        return self._token

    @staticmethod
    def _reply(code: int, body: dict[str, Any], key: str | None) -> Outcome:
        if body["success"]:
            assert code in (200, 202), body
            return ("OK", body["data"] if key is None else body["data"][key])
        return _outcome(body["error"]["code"], body["error"]["details"])

    def submit(self, symbol: str) -> Outcome:
        return self._reply(*submit(self._client, self._auth(), symbol), "remaining_slots")

    def cancel(self, symbol: str) -> Outcome:
        return self._reply(*cancel(self._client, self._auth(), symbol), "remaining_slots")

    def new_receipt(self) -> None:
        self._receipt = dev_receipt(self._client, self._auth())

    def send_last_receipt(self) -> Outcome:
        assert self._receipt is not None
        return self._reply(*unlock(self._client, self._auth(), self._receipt), None)

    def close_session(self) -> None:
        SessionsRepository(self._db).flip_to_settle(DAY, self._clock.now())
        self._db.flush()

    def status(self) -> dict[str, Any]:
        return slot_status(self._client, self._auth())


@dataclass(frozen=True)
class HttpDay:
    day: BigDay
    client: TestClient

    def __repr__(self) -> str:
        return f"HttpDay({self.day!r})"


@pytest.fixture
def http_day(big_day: BigDay, client: TestClient) -> HttpDay:
    return HttpDay(big_day, client)


@SHRINK_ROOM
@given(scenario=SCENARIOS)
@hypothesis_settings(PROPERTY_SETTINGS, max_examples=100)
def test_the_http_api_follows_the_model(scenario: Scenario, http_day: HttpDay) -> None:
    # Every example is a new player; the day's session is shared, so reopen it.
    day = http_day.day
    reopen = text("UPDATE crypto.session_control SET phase = 'PREDICT' WHERE trading_day = :d")
    day.db.execute(reopen, {"d": DAY})
    day.db.flush()
    day.start(scenario)
    day.play(scenario, HttpPlayer(http_day.client, day.clock, day.db))
