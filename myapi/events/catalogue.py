"""The event catalogue: every topic, its payload model, the queue that carries it and
the job that consumes it — and every job name. No topic, queue key or job name is
spelled as a bare string anywhere else.

* A topic with a consumer (`runs` set) is routed to its queue; a worker on that queue
  validates the payload with the topic's model and runs the job.
* A topic without a consumer (`queue` None) is still written to the outbox with the
  change that caused it (the outbox is the record of what happened), and the relay
  marks it published without sending it: nobody reads such a queue, so nothing is
  routed there and `batch.queues ensure` does not create it. The prediction events and
  `points.awarded` are such topics on purpose: the crowd split, the notifications and
  the leaderboard they could feed are computed set-based from the predictions table by
  the cutoff and the settlement follow-up, exactly and once per day, which a consumer
  per event could only redo row by row (and would need its own dedup state for).
* Payload models ignore unknown fields: a newer producer may add some.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from myapi.core.enums import Choice
from myapi.outbox.repository import OutboxRepository


class Topic(StrEnum):
    CYCLE_TICK = "cycle.tick"
    EOD_FETCH_REQUESTED = "eod.fetch.requested"
    SETTLEMENT_REQUESTED = "settlement.requested"
    SETTLEMENT_COMPLETED = "settlement.completed"
    POINTS_AWARDED = "points.awarded"
    PREDICTION_SUBMITTED = "prediction.submitted"
    PREDICTION_CHANGED = "prediction.changed"
    PREDICTION_CANCELLED = "prediction.cancelled"
    REWARD_REQUESTED = "reward.requested"
    REWARD_ISSUED = "reward.issued"
    REWARD_FAILED = "reward.failed"


class QueueKey(StrEnum):
    """Keys of Settings.queue_names."""

    EOD_FETCH = "eod_fetch"
    SETTLEMENT_COMPUTE = "settlement_compute"
    REWARDS_SAGA = "rewards_saga"


class JobName(StrEnum):
    """The `job` of every `job_runs` row."""

    OPEN_DAY = "session.open"
    REFRESH_BASELINES = "universe.refresh_baselines"
    CUTOFF = "session.cutoff"
    EARLY_CUTOFF = "session.early_cutoff"
    UNIVERSE_UPSERT = "universe.upsert"
    FETCH_EOD = "eod.fetch"
    REQUEST_EOD_FETCH = "eod.fetch.request"
    BACKFILL_EOD = "eod.backfill"  # an operator's range of days, each queued as an eod.fetch
    INGEST_VENDOR_EVENT = "eod.vendor_event"
    SETTLE = "settlement.run"
    REQUEST_SETTLEMENT = "settlement.request"
    TICK = "cycle.tick"
    GC = "maintenance.gc"
    PUBLISH_OUTBOX = "outbox.publish"
    REWARD_SAGA = "rewards.saga"
    REWARD_SWEEP = "rewards.sweep"
    SETTLEMENT_FOLLOW_UP = "settlement.follow_up"
    NOTIFY_REWARD = "notifications.reward"
    PUSH_DELIVER = "push.deliver"
    ANONYMISE_ACCOUNTS = "users.anonymise"
    ALERTS_CHECK = "alerts.check"


# --- payloads ----------------------------------------------------------------------
class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TradingDayPayload(Payload):
    """A job about one trading day; None means the job's default day."""

    trading_day: date | None = None


class EmptyPayload(Payload):
    pass


class PredictionSubmitted(Payload):
    prediction_id: int
    user_id: int
    trading_day: date
    symbol: str
    choice: Choice
    submitted_at: datetime


class PredictionChanged(Payload):
    prediction_id: int
    user_id: int
    choice: Choice


class PredictionCancelled(Payload):
    prediction_id: int
    user_id: int


class PointsAwarded(Payload):
    """One per player whose points a settlement run changed (the net delta)."""

    user_id: int
    trading_day: date
    delta: int
    entries: int


class SettlementCompleted(Payload):
    """A settlement run's summary (the job's details)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    trading_day: date
    symbols_settled: int = Field(ge=0)


class RewardRequested(Payload):
    """A redemption to drive through its saga (from the redeem transaction, an
    operator's retry, or the sweeper)."""

    redemption_id: int = Field(gt=0)


class RewardOutcome(Payload):
    """A redemption reached ISSUED or FAILED (for the player's notifications). Never
    carries the code."""

    redemption_id: int
    user_id: int
    sku: str
    title: str
    cost_points: int
    status: str
    reason: str | None = None


@dataclass(frozen=True)
class EventSpec:
    topic: Topic
    payload: type[Payload]
    queue: QueueKey | None  # None: no consumer; recorded, not delivered
    runs: JobName | None  # the job a consumer runs for it
    description: str


CATALOGUE: dict[Topic, EventSpec] = {
    spec.topic: spec
    for spec in (
        EventSpec(
            Topic.CYCLE_TICK, EmptyPayload, QueueKey.SETTLEMENT_COMPUTE, JobName.TICK,
            "EventBridge Scheduler's tick (sent straight to SQS, not through the outbox)",
        ),
        EventSpec(
            Topic.EOD_FETCH_REQUESTED, TradingDayPayload, QueueKey.EOD_FETCH, JobName.FETCH_EOD,
            "fetch a day's closes; settlement is requested once none is missing",
        ),
        EventSpec(
            Topic.SETTLEMENT_REQUESTED, TradingDayPayload, QueueKey.SETTLEMENT_COMPUTE, JobName.SETTLE,
            "settle a day (idempotent; a newer vendor revision re-settles)",
        ),
        EventSpec(
            Topic.SETTLEMENT_COMPLETED, SettlementCompleted, QueueKey.SETTLEMENT_COMPUTE,
            JobName.SETTLEMENT_FOLLOW_UP,
            "a settlement run changed a day's results: the players' results notifications and "
            "the leaderboard",
        ),
        EventSpec(
            Topic.POINTS_AWARDED, PointsAwarded, None, None,
            "a settlement run changed a player's points",
        ),
        EventSpec(Topic.PREDICTION_SUBMITTED, PredictionSubmitted, None, None, "a prediction was made"),
        EventSpec(Topic.PREDICTION_CHANGED, PredictionChanged, None, None, "a prediction's choice changed"),
        EventSpec(Topic.PREDICTION_CANCELLED, PredictionCancelled, None, None, "a prediction was withdrawn"),
        EventSpec(
            Topic.REWARD_REQUESTED, RewardRequested, QueueKey.REWARDS_SAGA, JobName.REWARD_SAGA,
            "drive a redemption's saga: hold, reserve, vendor issue, commit (or compensate)",
        ),
        EventSpec(
            Topic.REWARD_ISSUED, RewardOutcome, QueueKey.REWARDS_SAGA, JobName.NOTIFY_REWARD,
            "a redemption was issued its code: the player's notification",
        ),
        EventSpec(
            Topic.REWARD_FAILED, RewardOutcome, QueueKey.REWARDS_SAGA, JobName.NOTIFY_REWARD,
            "a redemption failed and was compensated (points and stock back): the player's notification",
        ),
    )
}  # fmt: skip


def spec_for(topic: str) -> EventSpec | None:
    """The catalogue entry of a topic as stored in the outbox (None: unknown topic)."""
    try:
        return CATALOGUE[Topic(topic)]
    except ValueError:
        return None


def consumed_queues() -> frozenset[QueueKey]:
    """Queues some worker reads: the only ones `batch.queues ensure` creates."""
    return frozenset(s.queue for s in CATALOGUE.values() if s.queue is not None and s.runs is not None)


def topics_for(queue: QueueKey) -> frozenset[Topic]:
    """The message types a worker on `queue` accepts."""
    return frozenset(s.topic for s in CATALOGUE.values() if s.queue == queue and s.runs is not None)


# --- producing ------------------------------------------------------------------------
def emit(
    session: Session,
    payload: Payload,
    topic: Topic,
    *,
    now: datetime,
    group_id: str | None = None,
    dedup_id: str | None = None,
) -> None:
    """Append `payload` as a `topic` event to the outbox, in the caller's transaction."""
    spec = CATALOGUE[topic]
    if not isinstance(payload, spec.payload):
        raise TypeError(f"{topic} carries {spec.payload.__name__}, not {type(payload).__name__}")
    OutboxRepository(session).add(
        topic, payload.model_dump(mode="json"), now=now, group_id=group_id, dedup_id=dedup_id
    )


def _request(session: Session, now: datetime, topic: Topic, trading_day: date) -> dict[str, Any]:
    """Ask for a job about one day through the queue; commits with the caller's work.
    The dedup id names the instant, so a later request is a new message."""
    emit(
        session,
        TradingDayPayload(trading_day=trading_day),
        topic,
        now=now,
        dedup_id=f"{topic}-{trading_day.isoformat()}-{int(now.timestamp())}",
    )
    return {"trading_day": trading_day.isoformat(), "requested": str(topic)}


def request_eod_fetch(session: Session, now: datetime, trading_day: date) -> dict[str, Any]:
    return _request(session, now, Topic.EOD_FETCH_REQUESTED, trading_day)


def request_settlement(session: Session, now: datetime, trading_day: date) -> dict[str, Any]:
    return _request(session, now, Topic.SETTLEMENT_REQUESTED, trading_day)
