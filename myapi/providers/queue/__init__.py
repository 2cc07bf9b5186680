"""SQS adapter: the only code that speaks to the queue service."""

from myapi.providers.queue.setup import EnsuredQueue, dlq_name_for, ensure_queues
from myapi.providers.queue.sqs import (
    MAX_BATCH_SIZE,
    OutgoingMessage,
    QueueError,
    QueueMissingError,
    ReceivedMessage,
    SendBatchResult,
    SqsQueue,
    make_sqs_client,
)

__all__ = [
    "MAX_BATCH_SIZE",
    "EnsuredQueue",
    "OutgoingMessage",
    "QueueError",
    "QueueMissingError",
    "ReceivedMessage",
    "SendBatchResult",
    "SqsQueue",
    "dlq_name_for",
    "ensure_queues",
    "make_sqs_client",
]
