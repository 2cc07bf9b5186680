"""Idempotent creation of queues named in settings, each with its DLQ and redrive
policy (SPEC §7). Running it again converges attributes instead of failing."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from myapi.core.config import Settings
from myapi.providers.queue.sqs import QueueError, is_fifo

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

    Attributes = dict[QueueAttributeNameType, str]

DLQ_RETENTION_S = 1_209_600  # 14 days, the SQS maximum: time to inspect and redrive


@dataclass(frozen=True)
class EnsuredQueue:
    key: str
    name: str
    url: str
    dlq_name: str
    dlq_url: str
    created: bool


def dlq_name_for(queue_name: str) -> str:
    """`q-x` -> `q-x-dlq`; `q-x.fifo` -> `q-x-dlq.fifo` (a FIFO queue needs a FIFO DLQ)."""
    if is_fifo(queue_name):
        return queue_name[: -len(".fifo")] + "-dlq.fifo"
    return queue_name + "-dlq"


def _existing_url(client: SQSClient, name: str) -> str | None:
    try:
        return client.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if "NonExistentQueue" in code or "QueueDoesNotExist" in code:
            return None
        raise


def _ensure_one(client: SQSClient, name: str, attributes: Attributes) -> tuple[str, bool]:
    url = _existing_url(client, name)
    if url is None:
        create_attrs = dict(attributes)
        if is_fifo(name):
            create_attrs["FifoQueue"] = "true"
        return client.create_queue(QueueName=name, Attributes=create_attrs)["QueueUrl"], True
    if attributes:
        client.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return url, False


def ensure_queues(
    client: SQSClient, settings: Settings, keys: Iterable[str] | None = None
) -> list[EnsuredQueue]:
    """Ensure the queues of `keys` (Settings.queue_names keys; default: every one)."""
    wanted = None if keys is None else set(keys)
    ensured: list[EnsuredQueue] = []
    try:
        for key, name in settings.queue_names.items():
            if wanted is not None and key not in wanted:
                continue
            fifo_attrs: Attributes = {"ContentBasedDeduplication": "false"} if is_fifo(name) else {}
            dlq_name = dlq_name_for(name)
            dlq_url, _ = _ensure_one(
                client,
                dlq_name,
                {"MessageRetentionPeriod": str(DLQ_RETENTION_S), **fifo_attrs},
            )
            dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            url, created = _ensure_one(
                client,
                name,
                {
                    "VisibilityTimeout": str(settings.sqs_visibility_timeout_s),
                    "ReceiveMessageWaitTimeSeconds": str(settings.sqs_wait_time_s),
                    "MessageRetentionPeriod": str(settings.sqs_message_retention_s),
                    "RedrivePolicy": json.dumps(
                        {
                            "deadLetterTargetArn": dlq_arn,
                            "maxReceiveCount": settings.sqs_max_receive_count,
                        }
                    ),
                    **fifo_attrs,
                },
            )
            ensured.append(EnsuredQueue(key, name, url, dlq_name, dlq_url, created))
    except (ClientError, BotoCoreError) as exc:
        raise QueueError(f"could not ensure queues: {exc}") from exc
    return ensured
