from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from myapi.core.schemas import KstDateTime
from myapi.queues.service import DeadLetter, QueueDepth, QueueStatus, RedriveOutcome, RedriveStatus


class QueueDepthOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    exists: bool = Field(description="false: the queue has not been created (batch.queues ensure)")
    visible: int
    in_flight: int
    delayed: int

    @classmethod
    def of(cls, depth: QueueDepth) -> QueueDepthOut:
        return cls.model_validate(depth)


class QueueStatusOut(BaseModel):
    key: str
    queue: QueueDepthOut
    dlq: QueueDepthOut

    @classmethod
    def of(cls, status: QueueStatus) -> QueueStatusOut:
        return cls(key=status.key, queue=QueueDepthOut.of(status.queue), dlq=QueueDepthOut.of(status.dlq))


class DeadLetterOut(BaseModel):
    message_id: str
    body: Any = Field(description="the body parsed as JSON when it is JSON, else the raw text")
    body_is_json: bool
    attributes: dict[str, str]
    receive_count: int
    sent_at: KstDateTime | None
    group_id: str | None

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterOut:
        try:
            body, is_json = json.loads(letter.body), True
        except ValueError:
            body, is_json = letter.body, False
        return cls(
            message_id=letter.message_id, body=body, body_is_json=is_json, attributes=letter.attributes,
            receive_count=letter.receive_count, sent_at=letter.sent_at, group_id=letter.group_id,
        )  # fmt: skip


MessageId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]


class RedriveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(
        default=100, ge=1, le=1000, strict=True, description="messages at most (without message_ids)"
    )
    message_ids: list[MessageId] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="only these messages (as listed by the peek); the others stay where they are",
    )


class RedriveOutcomeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    message_id: str
    status: RedriveStatus = Field(
        description="MOVED: back on the source queue; FAILED: still in the DLQ; NOT_FOUND: not in the DLQ"
    )
    error: str | None

    @classmethod
    def of(cls, outcome: RedriveOutcome) -> RedriveOutcomeOut:
        return cls.model_validate(outcome)


class RedriveOut(BaseModel):
    key: str
    queue: str
    dlq: str
    moved: int
    results: list[RedriveOutcomeOut]
