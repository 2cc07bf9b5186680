"""SQS over boto3: batch send (FIFO group/dedup ids), long-poll receive, delete,
change visibility. Works against AWS and any SQS-compatible endpoint."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from myapi.core.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

MAX_BATCH_SIZE = 10  # SQS limit for SendMessageBatch / ReceiveMessage


class QueueError(RuntimeError):
    """The queue service refused or could not be reached."""


class QueueMissingError(QueueError):
    """The queue service answered: no queue of that name (not created yet)."""


@dataclass(frozen=True)
class OutgoingMessage:
    body: str
    group_id: str | None = None  # FIFO only: ordering scope
    dedup_id: str | None = None  # FIFO only: 5-minute deduplication window
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceivedMessage:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    group_id: str | None
    attributes: dict[str, str]
    sent_at: datetime | None = None  # when the queue first received it (SentTimestamp)


@dataclass
class SendBatchResult:
    sent: list[int] = field(default_factory=list)  # indexes into the batch
    failed: dict[int, str] = field(default_factory=dict)  # index -> error


def make_sqs_client(settings: Settings) -> SQSClient:
    config = Config(
        connect_timeout=settings.sqs_connect_timeout_s,
        # Long polls hold the connection up to sqs_wait_time_s.
        read_timeout=settings.sqs_wait_time_s + 10,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    kwargs: dict[str, Any] = {"region_name": settings.aws_region, "config": config}
    if settings.sqs_endpoint_url:
        kwargs["endpoint_url"] = settings.sqs_endpoint_url
        # SQS-compatible local endpoints accept any credentials; AWS uses the default chain.
        kwargs.setdefault("aws_access_key_id", "local")
        kwargs.setdefault("aws_secret_access_key", "local")
    client: SQSClient = boto3.session.Session().client("sqs", **kwargs)
    return client


def _sent_at(epoch_ms: str | None) -> datetime | None:
    if not epoch_ms or not epoch_ms.isdigit():
        return None
    return datetime.fromtimestamp(int(epoch_ms) / 1000, tz=UTC)


def is_fifo(queue_name: str) -> bool:
    return queue_name.endswith(".fifo")


class SqsQueue:
    """Thread-safe (boto3 clients are); queue URLs are resolved once and cached."""

    def __init__(self, client: SQSClient) -> None:
        self.client = client
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def url(self, queue_name: str) -> str:
        with self._lock:
            cached = self._urls.get(queue_name)
        if cached:
            return cached
        try:
            url = self.client.get_queue_url(QueueName=queue_name)["QueueUrl"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            missing = "NonExistentQueue" in code or "QueueDoesNotExist" in code
            error = QueueMissingError if missing else QueueError
            raise error(f"queue {queue_name!r} is not available: {exc}") from exc
        except BotoCoreError as exc:
            raise QueueError(f"queue {queue_name!r} is not available: {exc}") from exc
        with self._lock:
            self._urls[queue_name] = url
        return url

    def send_batch(self, queue_name: str, messages: Sequence[OutgoingMessage]) -> SendBatchResult:
        """Send up to 10 messages in one call. FIFO queues need a group id on every
        message and get the given dedup id (content-based dedup is off)."""
        if not messages:
            return SendBatchResult()
        if len(messages) > MAX_BATCH_SIZE:
            raise ValueError(f"a batch holds at most {MAX_BATCH_SIZE} messages")
        fifo = is_fifo(queue_name)
        entries: list[SendMessageBatchRequestEntryTypeDef] = []
        for index, message in enumerate(messages):
            entry: SendMessageBatchRequestEntryTypeDef = {
                "Id": str(index),
                "MessageBody": message.body,
            }
            if fifo:
                if not message.group_id or not message.dedup_id:
                    raise ValueError("FIFO messages need a group_id and a dedup_id")
                entry["MessageGroupId"] = message.group_id
                entry["MessageDeduplicationId"] = message.dedup_id
            if message.attributes:
                entry["MessageAttributes"] = {
                    key: {"DataType": "String", "StringValue": value}
                    for key, value in message.attributes.items()
                }
            entries.append(entry)
        try:
            response = self.client.send_message_batch(QueueUrl=self.url(queue_name), Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"send to {queue_name!r} failed: {exc}") from exc
        result = SendBatchResult()
        for ok in response.get("Successful", []):
            result.sent.append(int(ok["Id"]))
        for bad in response.get("Failed", []):
            result.failed[int(bad["Id"])] = f"{bad.get('Code', '')}: {bad.get('Message', '')}"
        return result

    def receive(
        self,
        queue_name: str,
        max_messages: int = MAX_BATCH_SIZE,
        wait_time_s: int = 20,
        visibility_timeout_s: int | None = None,
    ) -> list[ReceivedMessage]:
        """Long-poll for up to `max_messages` messages."""
        kwargs: dict[str, Any] = {
            "QueueUrl": self.url(queue_name),
            "MaxNumberOfMessages": max(1, min(max_messages, MAX_BATCH_SIZE)),
            "WaitTimeSeconds": wait_time_s,
            "MessageSystemAttributeNames": ["ApproximateReceiveCount", "MessageGroupId", "SentTimestamp"],
            "MessageAttributeNames": ["All"],
        }
        if visibility_timeout_s is not None:
            kwargs["VisibilityTimeout"] = visibility_timeout_s
        try:
            response = self.client.receive_message(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"receive from {queue_name!r} failed: {exc}") from exc
        received: list[ReceivedMessage] = []
        for raw in response.get("Messages", []):
            system = raw.get("Attributes", {})
            received.append(
                ReceivedMessage(
                    message_id=raw["MessageId"],
                    receipt_handle=raw["ReceiptHandle"],
                    body=raw["Body"],
                    receive_count=int(system.get("ApproximateReceiveCount", "1")),
                    group_id=system.get("MessageGroupId"),
                    attributes={
                        key: value.get("StringValue", "")
                        for key, value in raw.get("MessageAttributes", {}).items()
                    },
                    sent_at=_sent_at(system.get("SentTimestamp")),
                )
            )
        return received

    def delete(self, queue_name: str, receipt_handle: str) -> None:
        try:
            self.client.delete_message(QueueUrl=self.url(queue_name), ReceiptHandle=receipt_handle)
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"delete from {queue_name!r} failed: {exc}") from exc

    def change_visibility(self, queue_name: str, receipt_handle: str, timeout_s: int) -> None:
        """Extend (or shorten) how long a received message stays hidden."""
        try:
            self.client.change_message_visibility(
                QueueUrl=self.url(queue_name),
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=timeout_s,
            )
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"change visibility on {queue_name!r} failed: {exc}") from exc

    def depth(self, queue_name: str) -> dict[str, int]:
        """Visible, in-flight and delayed message counts (approximate, per SQS)."""
        try:
            attrs = self.client.get_queue_attributes(
                QueueUrl=self.url(queue_name),
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"attributes of {queue_name!r} unavailable: {exc}") from exc
        return {
            "visible": int(attrs.get("ApproximateNumberOfMessages", "0")),
            "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", "0")),
            "delayed": int(attrs.get("ApproximateNumberOfMessagesDelayed", "0")),
        }
