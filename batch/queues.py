"""Queue tooling.

python -m batch.queues ensure              # create/converge each consumed queue + DLQ (idempotent)
python -m batch.queues status              # depth of each of those queues and its DLQ

Only queues some worker consumes (the event catalogue's consumed_queues()) exist; the
others named in settings are created once their consumer is.
python -m batch.queues peek eod_fetch      # show what sits in a queue's DLQ
python -m batch.queues redrive eod_fetch   # move a DLQ's messages back to their queue
"""

from __future__ import annotations

import argparse
import json
import sys

from myapi.core.config import Settings
from myapi.events.catalogue import consumed_queues
from myapi.providers.queue import (
    OutgoingMessage,
    QueueError,
    SqsQueue,
    dlq_name_for,
    ensure_queues,
    make_sqs_client,
)


def ensure(settings: Settings) -> list[dict[str, object]]:
    ensured = ensure_queues(make_sqs_client(settings), settings, consumed_queues())
    return [{"queue": q.name, "dlq": q.dlq_name, "created": q.created, "url": q.url} for q in ensured]


def status(settings: Settings) -> list[dict[str, object]]:
    queue = SqsQueue(make_sqs_client(settings))
    rows: list[dict[str, object]] = []
    for key in sorted(consumed_queues()):
        name = settings.queue_names[key]
        for queue_name in (name, dlq_name_for(name)):
            rows.append({"queue": queue_name, **queue.depth(queue_name)})
    return rows


def _queue_name(settings: Settings, key_or_name: str) -> str:
    return settings.queue_names.get(key_or_name, key_or_name)


def peek(settings: Settings, key_or_name: str, limit: int) -> list[dict[str, object]]:
    """Read up to `limit` DLQ messages and leave them there (visible again at once)."""
    queue = SqsQueue(make_sqs_client(settings))
    dlq = dlq_name_for(_queue_name(settings, key_or_name))
    rows: list[dict[str, object]] = []
    handles: list[str] = []
    while len(rows) < limit:
        messages = queue.receive(dlq, min(10, limit - len(rows)), 0, visibility_timeout_s=60)
        if not messages:
            break
        for m in messages:
            handles.append(m.receipt_handle)
            rows.append({"message_id": m.message_id, "receives": m.receive_count, "body": m.body})
    for handle in handles:
        queue.change_visibility(dlq, handle, 0)
    return rows


def redrive(settings: Settings, key_or_name: str, limit: int) -> list[dict[str, object]]:
    """Move up to `limit` messages from the DLQ back to the source queue (send, then
    delete from the DLQ: a crash in between duplicates, never loses, a message)."""
    queue = SqsQueue(make_sqs_client(settings))
    source = _queue_name(settings, key_or_name)
    dlq = dlq_name_for(source)
    moved = 0
    while moved < limit:
        messages = queue.receive(dlq, min(10, limit - moved), 0, visibility_timeout_s=60)
        if not messages:
            break
        outgoing = [
            OutgoingMessage(
                body=m.body,
                group_id=m.group_id or "redrive",
                dedup_id=f"redrive-{m.message_id}",
                attributes=m.attributes,
            )
            for m in messages
        ]
        sent = queue.send_batch(source, outgoing)
        for index in sent.sent:
            queue.delete(dlq, messages[index].receipt_handle)
        moved += len(sent.sent)
        if sent.failed:
            raise QueueError(f"redrive to {source} failed for {len(sent.failed)} message(s)")
    return [{"queue": source, "dlq": dlq, "moved": moved}]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batch.queues", description=__doc__)
    parser.add_argument("command", choices=["ensure", "status", "peek", "redrive"])
    parser.add_argument("queue", nargs="?", help="queue key (eod_fetch, ...) or name, for peek/redrive")
    parser.add_argument("--max", type=int, default=100, help="messages at most, for peek/redrive")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command in ("peek", "redrive") and not args.queue:
        parser.error(f"{args.command} needs a queue")
    try:
        if args.command == "ensure":
            result = ensure(settings)
        elif args.command == "status":
            result = status(settings)
        elif args.command == "peek":
            result = peek(settings, args.queue, args.max)
        else:
            result = redrive(settings, args.queue, args.max)
    except QueueError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}), file=sys.stderr)
        return 1
    print(json.dumps({"ok": True, "queues": result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
