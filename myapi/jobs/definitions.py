"""Every batch step, defined once (SPEC §2, §9).

Each method is one job: it resolves its default trading day, runs through `JobRunner`
(so every run writes a `job_runs` row with its trading day, whatever the entry point),
and returns the `JobResult`. The entry points are thin adapters over these methods:

* `/internal/...` routes (EventBridge, an operator's script) — myapi/internal/router.py;
* SQS messages — a worker (batch/worker.py) calls `handle(topic, payload)`, which runs
  the job the event catalogue names for the topic;
* the local scheduler (batch/scheduler.py) — `tick()` and `gc()`.

So a job behaves the same from every path: e.g. `fetch_eod` requests settlement once no
price is missing, whether it came from HTTP, a queue message or the reconcile tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from myapi.core.db import batch_statement_timeout, unit_of_work
from myapi.core.errors import AppError
from myapi.cycle.service import CycleStep
from myapi.events.catalogue import (
    CATALOGUE,
    JobName,
    Payload,
    RewardOutcome,
    RewardRequested,
    SettlementCompleted,
    Topic,
    TradingDayPayload,
    request_eod_fetch,
    request_settlement,
)
from myapi.jobs.repository import JobRunsRepository
from myapi.jobs.runner import JobFailure, JobResult, JobRunner
from myapi.providers.eod.base import EodQuote
from myapi.settlement.service import Decision, VoidReason
from myapi.universe.schemas import UniverseUpsertIn

if TYPE_CHECKING:
    from myapi.container import Container

logger = logging.getLogger("myapi.jobs")

SCHEDULER_ACTOR = "internal:scheduler"


class InvalidPayloadError(ValueError):
    """A queue message whose payload does not match its topic's model: no retry helps."""


CYCLE_ACTOR = "internal:cycle"


class Jobs:
    def __init__(self, container: Container) -> None:
        self._c = container
        self._runner = JobRunner(container.sessionmaker(), container.clock(), on_failure=self._job_failed)
        # Consumed topics -> the job that handles them (the catalogue names the job).
        self._consumers: dict[JobName, Callable[[Payload], JobResult]] = {
            JobName.FETCH_EOD: lambda p: self.fetch_eod(_day(p)),
            JobName.SETTLE: lambda p: self.settle(_day(p)),
            JobName.TICK: lambda _p: self.tick(),
            JobName.REWARD_SAGA: lambda p: self.run_redemption(_redemption_id(p)),
            JobName.SETTLEMENT_FOLLOW_UP: lambda p: self.follow_up_settlement(_settled_day(p)),
            JobName.NOTIFY_REWARD: lambda p: self.notify_reward(_reward_outcome(p)),
        }

    # --- the day's session ---------------------------------------------------------
    def open_day(self, trading_day: date | None = None, *, actor: str = SCHEDULER_ACTOR) -> JobResult:
        """Open D for predictions, with the default universe if D has none. Only the day
        that is due opens (CYCLE_004: a past day, a day ahead, or while the previous day
        is unsettled; CYCLE_001: not a trading day), whatever the path. Idempotent: an
        open or closed session is left as it is.

        Baselines: first (outside any transaction, best effort: a provider failure never
        keeps the day from opening) the previous session's official close is fetched
        for every symbol of the day that has none stored; then every symbol without a
        baseline (a default universe, or one set before its closes were known) gets that
        close. A symbol still without one cannot be predicted until the baseline refresh
        prices it. A close that arrives this way for a settled previous day (it had
        settled VOID for the missing price) asks for that day's re-settlement."""
        day = trading_day or self._today()

        def work(session: Session) -> dict[str, Any]:
            prefetched = self._prefetch_previous_closes(day)
            opened = self._c.session_service(session).open(day)
            universe = self._c.universe_service(session)
            universe_set = universe.ensure_default(day, actor=actor)
            filled = universe.fill_missing_baselines(day)
            return {
                **opened, "default_universe_set": universe_set,
                "previous_closes_fetched": prefetched, "baselines_filled": filled,
            }  # fmt: skip

        return self._runner.run(JobName.OPEN_DAY, work, day)

    def _prefetch_previous_closes(self, day: date) -> int:
        """Fetch the previous session's close of the day's symbols that lack one (the
        provider chain, no transaction held); 0 when the day is not due to open (the
        open refuses it right after) or the close is not available yet."""
        with unit_of_work(self._c.sessionmaker()) as session:
            try:
                self._c.session_service(session).require_openable(day)
            except AppError:
                return 0
            symbols = self._c.universe_service(session).symbols(day)
        previous = self._c.calendar().previous_trading_day(day)
        try:
            stored = int(self._c.eod_service().fetch(previous, symbols)["stored"])
        except AppError:  # e.g. within EOD_FETCH_DELAY_MIN of the previous close
            return 0
        except Exception:  # a provider bug must not keep the day from opening
            logger.exception("fetching %s closes for %s's baselines failed", previous, day)
            return 0
        if stored:
            with unit_of_work(self._c.sessionmaker()) as session:
                settled = self._c.session_service(session).is_settled(previous)
            if settled:  # a price that day's settlement lacked: settle it again
                self.request_settlement(previous)
        return stored

    def refresh_baselines(self, trading_day: date | None = None) -> JobResult:
        """Move D's baselines to the latest prices the providers have (pre-market
        included where available) while D accepts predictions, so each prediction
        snapshots the price of its moment. The providers are asked before any
        transaction; outside the prediction window nothing changes. The tick runs it
        every BASELINE_REFRESH_INTERVAL_MIN while D is open (in the process running
        the tick: the scheduler or the worker consuming `cycle.tick`)."""
        day = trading_day or self._today()

        def work(session: Session) -> dict[str, Any]:
            # The session is first used after the provider call: no transaction is open.
            symbols = self._symbols(day)
            quotes = self._c.eod_service().latest_prices(day, symbols)
            return self._c.universe_service(session).refresh_baselines(day, quotes)

        return self._runner.run(JobName.REFRESH_BASELINES, work, day)

    def _symbols(self, day: date) -> list[str]:
        with unit_of_work(self._c.sessionmaker()) as session:
            return [row.symbol for row in self._c.universe_service(session).list_for_day(day)]

    def cutoff(self, trading_day: date | None = None) -> JobResult:
        """Close D for predictions (phase SETTLE) at its scheduled cutoff; earlier is
        CYCLE_003 (the scheduled path never cuts off early). Idempotent."""
        day = trading_day or self._today()
        return self._runner.run(JobName.CUTOFF, lambda s: self._cut_off(s, day), day)

    def _cut_off(self, session: Session, day: date, **early: str) -> dict[str, Any]:
        """The cutoff, and the crowd's split counted now that it may be shown."""
        result = self._c.session_service(session).cutoff(day, **early)
        return {**result, "crowd": self._c.crowd_service(session).refresh(day)}

    def early_cutoff(self, trading_day: date, *, reason: str, actor: str) -> JobResult:
        """An operator closes D for predictions before its scheduled cutoff (audited,
        with the reason). At or after the scheduled cutoff it is a plain cutoff."""
        return self._runner.run(
            JobName.EARLY_CUTOFF,
            lambda s: self._cut_off(s, trading_day, early_reason=reason, actor=actor),
            trading_day,
        )

    def upsert_universe(self, request: UniverseUpsertIn, *, actor: str = SCHEDULER_ACTOR) -> JobResult:
        """Replace a day's universe atomically (audited)."""
        day = request.trading_day or self._today()

        def work(session: Session) -> dict[str, Any]:
            result = self._c.universe_service(session).upsert(day, request.symbols, actor=actor)
            return result.model_dump(mode="json")

        return self._runner.run(JobName.UNIVERSE_UPSERT, work, day)

    # --- prices and settlement -----------------------------------------------------
    def fetch_eod(self, trading_day: date | None = None) -> JobResult:
        """Fetch D's closes for every universe symbol still without one (provider chain,
        outside any transaction); once none is missing, request D's settlement (a job of
        its own). Idempotent: priced symbols are not fetched again, and settlement twice
        settles once."""
        day = trading_day or self._last_closed_day()
        service = self._c.eod_service()
        result = self._runner.run(JobName.FETCH_EOD, lambda _s: service.fetch(day), day)
        if not result.details["missing"] and self._has_session(day):
            self.request_settlement(day)
        return result

    def _has_session(self, day: date) -> bool:
        with unit_of_work(self._c.sessionmaker()) as session:
            return self._c.session_service(session).exists(day)

    def request_eod_fetch(self, trading_day: date) -> JobResult:
        """Ask a worker for D's EOD fetch (an outbox event, sent by the relay)."""
        return self._runner.run(
            JobName.REQUEST_EOD_FETCH, lambda s: request_eod_fetch(s, self._now(), trading_day), trading_day
        )

    def backfill_eod(self, first: date, last: date, *, actor: str) -> JobResult:
        """An operator's EOD backfill of [first, last]: one `eod.fetch` request (a message
        on the eod_fetch queue, through the outbox) per trading day still lacking a close,
        all committed with this run, whose id is the backfill's (EodBackfillService.queue
        has the rules and refusals). Each day is then fetched by `fetch_eod`, the job the
        scheduler's requests run (so a day with a session is settled once complete).
        Resumable: posting the range again queues only the days still incomplete."""
        return self._runner.run(
            JobName.BACKFILL_EOD, lambda s: self._c.eod_backfill_service(s).queue(first, last, actor=actor)
        )

    def settle(self, trading_day: date | None = None, *, actor: str | None = None) -> JobResult:
        """Settle D (set-based, idempotent, revision-aware; see SettlementService). A
        symbol-day the run holds for review (a corporate action) is alerted to the
        operators (CORPORATE_ACTION_HELD, once per symbol-day). `actor`: an operator's
        (re-)settlement, audited."""
        day = trading_day or self._last_closed_day()
        result = self._runner.run(
            JobName.SETTLE, lambda s: self._c.settlement_service(s).settle(day, actor=actor), day
        )
        self._alert_held(day, result)
        return result

    def decide_symbol_day(
        self, trading_day: date, symbol: str, *, decision: Decision, note: str, actor: str,
        write_off_shortfall: bool = False,
    ) -> JobResult:  # fmt: skip
        """An operator's decision on a held symbol-day (SETTLE or VOID), applied by the
        settlement restricted to the symbol (a `settlement.run` whose details are the
        decision and its `settlement`); idempotent (SettlementService.decide)."""
        return self._runner.run(
            JobName.SETTLE,
            lambda s: self._c.settlement_service(s).decide(
                trading_day, symbol, decision=decision, note=note, actor=actor,
                write_off_shortfall=write_off_shortfall,
            ),
            trading_day,
        )  # fmt: skip

    def void_symbol_day(
        self, trading_day: date, symbol: str, *, reason: VoidReason, note: str, actor: str,
        write_off_shortfall: bool = False,
    ) -> JobResult:  # fmt: skip
        """An operator VOIDs a symbol-day (halt, bad data, corporate action), points won
        taken back, through the settlement restricted to the symbol (a `settlement.run`
        whose details are the VOID and its `settlement`); idempotent
        (SettlementService.void)."""
        return self._runner.run(
            JobName.SETTLE,
            lambda s: self._c.settlement_service(s).void(
                trading_day, symbol, reason=reason, note=note, actor=actor,
                write_off_shortfall=write_off_shortfall,
            ),
            trading_day,
        )  # fmt: skip

    def _alert_held(self, day: date, result: JobResult) -> None:
        """The operators' alert for each symbol-day this run held (after its commit; a
        failing alert never fails the settlement: the hold is listed by
        GET /admin/corporate-actions whatever happens to the message)."""
        held = result.details.get("held") or []
        if not held:
            return
        try:
            service = self._c.alert_service()
            for row in held:
                service.corporate_action_held(day, row)
        except Exception:
            logger.exception("alerting the symbol-days held on %s failed", day)

    def request_settlement(self, trading_day: date) -> JobResult:
        """Ask a worker for D's settlement (an outbox event, sent by the relay)."""
        return self._runner.run(
            JobName.REQUEST_SETTLEMENT, lambda s: request_settlement(s, self._now(), trading_day), trading_day
        )

    def ingest_vendor_event(self, asof: date, vendor_rev: int, quotes: Sequence[EodQuote]) -> JobResult:
        """A vendor's pushed prices: stored, and D's (re)settlement requested when new."""
        return self._runner.run(
            JobName.INGEST_VENDOR_EVENT,
            lambda s: self._c.vendor_event_service(s).ingest(asof, vendor_rev, quotes),
            asof,
        )

    # --- the reconcile loop --------------------------------------------------------
    def tick(self) -> JobResult:
        """Do whatever part of the daily cycle is due and not done (CyclePlanner's
        rules), each step as its own job. A fetch or settlement request is repeated at
        most once per CYCLE_RETRY_INTERVAL_MIN. Safe to call any time, any number of
        times; a missed or doubled tick changes nothing. The operator alert check runs
        here too, at most every ALERT_CHECK_INTERVAL_S (its last run is its job_runs
        row); its summary is the tick's `alerts`, the actions are the cycle's steps."""
        with unit_of_work(self._c.sessionmaker()) as session:
            steps = self._c.cycle_planner(session).due_steps()
            last_requests = {
                step: JobRunsRepository(session).last_start(_REQUEST_JOBS[step.kind], step.trading_day)
                for step in steps
                if step.kind in _REQUEST_JOBS
            }
            last_alerts_check = JobRunsRepository(session).last_start_of(JobName.ALERTS_CHECK)
            deletions_due = self._c.user_service(session).deletions_due()
        settings = self._c.settings()
        every = {
            "request_eod_fetch": settings.cycle_retry_interval_min,
            "request_settlement": settings.cycle_retry_interval_min,
            "refresh_baselines": settings.baseline_refresh_interval_min,
        }
        actions: list[dict[str, Any]] = []
        audited: list[tuple[JobResult, dict[str, Any]]] = []  # the cycle's steps, for the audit log
        for step in steps:
            last = last_requests.get(step)
            if last is not None and (self._now() - last).total_seconds() < every[step.kind] * 60:
                continue
            result = self._run_step(step)
            actions.append({"step": _STEP_NAMES.get(step.kind, result.job), **result.details})
            audited.append((result, actions[-1]))
        if self._c.reward_saga().due():  # a sweep with work to do (none recorded otherwise)
            swept = self.sweep_rewards()
            actions.append({"step": "rewards.sweep", **swept.details})
            audited.append((swept, actions[-1]))
        if self._c.push_delivery().due():  # pushes due (quiet hours over, retries, missed passes)
            actions.append({"step": str(JobName.PUSH_DELIVER), **self.deliver_push().details})
        if deletions_due:  # deleted accounts past their grace period
            anonymised = self.anonymise_accounts()
            actions.append({"step": "users.anonymise", **anonymised.details})
            audited.append((anonymised, actions[-1]))
        checked: dict[str, Any] = {}
        if last_alerts_check is None or (
            (self._now() - last_alerts_check).total_seconds() >= settings.alert_check_interval_s
        ):
            checked["alerts"] = self._tick_alerts_check()

        def work(session: Session) -> dict[str, Any]:
            audit = self._c.audit_service(session)
            for result, action in audited:  # every step the scheduler took, as an audit row
                day = result.trading_day.isoformat() if result.trading_day else None
                details = {k: v for k, v in action.items() if k != "step"}
                audit.record_step(
                    actor=CYCLE_ACTOR, step=str(action["step"]), trading_day=day, run_id=result.run_id,
                    details=details,
                )  # fmt: skip
            return {"actions": actions, **checked}

        return self._runner.run(JobName.TICK, work)

    def _tick_alerts_check(self) -> dict[str, Any]:
        """The alert check as part of the tick, summarised under the tick's `alerts` (not
        an action: the cycle's actions stay what they were). Its failure is recorded and
        alerted by its own run; the tick goes on."""
        try:
            result = self.check_alerts()
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"[:500]}
        details = result.details
        return {"run_id": result.run_id, **{k: details[k] for k in ("sent", "held", "failed")}}

    def _run_step(self, step: CycleStep) -> JobResult:
        if step.kind == "cutoff":
            return self.cutoff(step.trading_day)
        if step.kind == "request_eod_fetch":
            return self.request_eod_fetch(step.trading_day)
        if step.kind == "request_settlement":
            return self.request_settlement(step.trading_day)
        if step.kind == "refresh_baselines":
            return self.refresh_baselines(step.trading_day)
        return self.open_day(step.trading_day, actor=CYCLE_ACTOR)

    # --- rewards -----------------------------------------------------------------------
    def run_redemption(self, redemption_id: int) -> JobResult:
        """Drive one redemption's saga as far as it goes now (RedemptionSaga.advance):
        idempotent, and resumes from whatever state a crash or a redelivery left."""
        saga = self._c.reward_saga()
        return self._runner.run(JobName.REWARD_SAGA, lambda _s: saga.advance(redemption_id))

    def sweep_rewards(self) -> JobResult:
        """Hand redemption sagas idle past REWARD_SAGA_TIMEOUT_S, and those whose vendor
        answer is due to be asked again, back to the saga workers (part of the reconcile
        tick; RedemptionSaga.sweep)."""
        saga = self._c.reward_saga()
        return self._runner.run(JobName.REWARD_SWEEP, lambda _s: saga.sweep())

    # --- notifications -----------------------------------------------------------------
    def follow_up_settlement(self, trading_day: date) -> JobResult:
        """After a settlement run changed D's results, in one unit of work: each player
        with a prediction on D gets (or has updated) their results notification (and a
        streak milestone's, and a notice when the next session follows a holiday or
        closes early), the
        leaderboard's periods containing D are refreshed for D's players, D's crowd
        counters are recounted (who was right), and D's dashboard summary is rewritten.
        Idempotent."""

        def work(session: Session) -> dict[str, Any]:
            # Day-sized statements (every player of D): the settlement's timeout, not a request's.
            batch_statement_timeout(session, self._c.settings().settlement_statement_timeout_ms)
            notifications = self._c.notification_service(session)
            return {
                "notifications": notifications.day_settled(trading_day),
                "streaks": notifications.streak_milestones(trading_day),
                "calendar": notifications.next_session_notice(trading_day),
                "leaderboard": self._c.leaderboard_service(session).refresh(trading_day),
                "crowd": self._c.crowd_service(session).refresh(trading_day),
                "dashboard": self._c.dashboard_summary(session).refresh(trading_day),
            }

        result = self._runner.run(JobName.SETTLEMENT_FOLLOW_UP, work, trading_day)
        self._push_promptly()
        return result

    def notify_reward(self, outcome: RewardOutcome) -> JobResult:
        """The player's notification of a redemption's outcome; idempotent."""
        result = self._runner.run(
            JobName.NOTIFY_REWARD,
            lambda s: self._c.notification_service(s).reward_outcome(
                user_id=outcome.user_id, redemption_id=outcome.redemption_id, status=outcome.status,
                title=outcome.title, cost_points=outcome.cost_points, reason=outcome.reason,
            ),
        )  # fmt: skip
        self._push_promptly()
        return result

    # --- push --------------------------------------------------------------------------
    def deliver_push(self) -> JobResult:
        """One bounded pass pushing due notifications to the players' devices
        (PushDelivery.deliver_once): each notification to each device at most once,
        however many passes run at once; sends happen outside any transaction."""
        delivery = self._c.push_delivery()
        return self._runner.run(JobName.PUSH_DELIVER, lambda _s: delivery.deliver_once())

    def _push_promptly(self) -> None:
        """Right after a job that made notifications, in the same process: a push pass
        if one is due. Its failure (recorded as its own job run) never fails the job
        before it; the reconcile tick runs the pass again."""
        try:
            if self._c.push_delivery().due():
                self.deliver_push()
        except Exception:
            logger.exception("the push pass after a notifications job failed")

    # --- operator alerts -------------------------------------------------------------
    def check_alerts(self) -> JobResult:
        """Raise the operator alerts whose condition holds now (AlertService.check: a
        DLQ above ALERT_DLQ_THRESHOLD, the last closed day's EOD still missing past its
        VOID deadline, an integrity failure) and post again job failures whose post had
        failed. Deduplicated and throttled per alert key; a failing webhook never fails
        the job. The reconcile tick runs it at most every ALERT_CHECK_INTERVAL_S."""
        day = self._last_closed_day()
        service = self._c.alert_service()
        return self._runner.run(JobName.ALERTS_CHECK, lambda _s: service.check(day), day)

    def _job_failed(self, failure: JobFailure) -> None:
        """JobRunner's failure hook (a failure, not a refusal): the JOB_FAILED alert."""
        self._c.alert_service().job_failed(failure.job, failure.trading_day, failure.run_id, failure.error)

    # --- account lifecycle ----------------------------------------------------------
    def anonymise_accounts(self) -> JobResult:
        """Erase the personal data of deleted accounts whose grace period is over
        (UserService.anonymise_due), a batch per run; the tick runs it while any is due."""
        return self._runner.run(JobName.ANONYMISE_ACCOUNTS, lambda s: self._c.user_service(s).anonymise_due())

    # --- housekeeping --------------------------------------------------------------
    def gc(self) -> JobResult:
        """Delete what has expired (OAuth states, refresh tokens, idempotency keys,
        rate-limit windows)."""
        return self._runner.run(JobName.GC, lambda s: self._c.maintenance_service(s).gc())

    def publish_outbox(self) -> JobResult:
        """One relay pass over due outbox rows (the relay process runs passes
        continuously without recording each; this is the on-demand step)."""
        relay = self._c.outbox_relay()
        return self._runner.run(JobName.PUBLISH_OUTBOX, lambda _s: relay.publish_once().as_dict())

    # --- queue entry point ---------------------------------------------------------
    def handle(self, topic: Topic, payload: dict[str, Any]) -> JobResult:
        """Run the job the catalogue names for a consumed topic. The payload is validated
        with the topic's model first (InvalidPayloadError: a poison message)."""
        spec = CATALOGUE[topic]
        if spec.runs is None:
            raise LookupError(f"topic {topic} has no consumer")
        try:
            params = spec.payload.model_validate(payload)
        except ValidationError as exc:
            raise InvalidPayloadError(f"invalid {topic} payload: {exc.errors(include_url=False)}") from exc
        return self._consumers[spec.runs](params)

    # --- defaults ------------------------------------------------------------------
    def _now(self) -> datetime:
        return self._c.clock().now()

    def _today(self) -> date:
        return self._c.calendar().trading_day_for(self._now())

    def _last_closed_day(self) -> date:
        calendar = self._c.calendar()
        return calendar.previous_trading_day(self._today())


_REQUEST_JOBS = {
    "request_eod_fetch": JobName.REQUEST_EOD_FETCH,
    "request_settlement": JobName.REQUEST_SETTLEMENT,
    "refresh_baselines": JobName.REFRESH_BASELINES,
}
# How the tick's actions name each step (as the reconcile loop always has).
_STEP_NAMES = {"cutoff": "cutoff", "open": "open"}


def _settled_day(payload: Payload) -> date:
    if not isinstance(payload, SettlementCompleted):
        raise TypeError(f"expected SettlementCompleted, got {type(payload).__name__}")
    return payload.trading_day


def _reward_outcome(payload: Payload) -> RewardOutcome:
    if not isinstance(payload, RewardOutcome):
        raise TypeError(f"expected RewardOutcome, got {type(payload).__name__}")
    return payload


def _redemption_id(payload: Payload) -> int:
    if not isinstance(payload, RewardRequested):
        raise TypeError(f"expected RewardRequested, got {type(payload).__name__}")
    return payload.redemption_id


def _day(payload: Payload) -> date | None:
    return payload.trading_day if isinstance(payload, TradingDayPayload) else None
