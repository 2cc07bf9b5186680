"""Queue tooling.

python -m batch.queues ensure              # create/converge each consumed queue + DLQ (idempotent)
python -m batch.queues status              # depth of each of those queues and its DLQ

Only queues some worker consumes (the event catalogue's consumed_queues()) exist; the
others named in settings are created once their consumer is.
python -m batch.queues peek eod_fetch      # show what sits in a queue's DLQ
python -m batch.queues redrive eod_fetch   # move a DLQ's messages back to their queue
python -m batch.queues redrive eod_fetch --id MESSAGE_ID   # only that one (repeatable)

peek/redrive run myapi.queues.service.QueueService, the code behind
GET /admin/queues/{key}/dlq and POST /admin/queues/{key}/dlq/redrive.
"""

from __future__ import annotations

import argparse
import json
import sys

from myapi.core.config import Settings
from myapi.core.errors import AppError
from myapi.events.catalogue import consumed_queues
from myapi.providers.queue import QueueError, SqsQueue, ensure_queues, make_sqs_client
from myapi.queues.service import QueueService


def _service(settings: Settings) -> QueueService:
    # The service behind GET/POST /admin/queues too (myapi/queues/service.py).
    return QueueService(SqsQueue(make_sqs_client(settings)), settings)


def ensure(settings: Settings) -> list[dict[str, object]]:
    ensured = ensure_queues(make_sqs_client(settings), settings, consumed_queues())
    return [{"queue": q.name, "dlq": q.dlq_name, "created": q.created, "url": q.url} for q in ensured]


def status(settings: Settings) -> list[dict[str, object]]:
    """Depths of every consumed queue and its DLQ (those some worker reads)."""
    consumed = {str(k) for k in consumed_queues()}
    rows: list[dict[str, object]] = []
    for entry in _service(settings).overview():
        if entry.key not in consumed:
            continue
        for depth in (entry.queue, entry.dlq):
            counts = {"visible": depth.visible, "in_flight": depth.in_flight, "delayed": depth.delayed}
            rows.append({"queue": depth.name, "exists": depth.exists, **counts})
    return rows


def peek(settings: Settings, key_or_name: str, limit: int) -> list[dict[str, object]]:
    """Read up to `limit` DLQ messages and leave them there (visible again at once)."""
    service = _service(settings)
    return [
        {
            "message_id": m.message_id,
            "receives": m.receive_count,
            "body": m.body,
            "attributes": m.attributes,
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
        }
        for m in service.peek(service.key_for(key_or_name), limit)
    ]


def redrive(
    settings: Settings, key_or_name: str, limit: int, message_ids: list[str] | None = None
) -> list[dict[str, object]]:
    """Move up to `limit` messages (or those named) from the DLQ back to the source queue
    (send, then delete from the DLQ: a crash in between duplicates, never loses, a message)."""
    service = _service(settings)
    key = service.key_for(key_or_name)
    source, dlq = service.names(key)
    outcomes = service.redrive(key, limit, message_ids)
    moved = sum(1 for o in outcomes if o.status == "MOVED")
    results = [{"message_id": o.message_id, "status": o.status, "error": o.error} for o in outcomes]
    return [{"queue": source, "dlq": dlq, "moved": moved, "results": results}]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batch.queues", description=__doc__)
    parser.add_argument("command", choices=["ensure", "status", "peek", "redrive"])
    parser.add_argument("queue", nargs="?", help="queue key (eod_fetch, ...) or name, for peek/redrive")
    parser.add_argument("--max", type=int, default=100, help="messages at most, for peek/redrive")
    parser.add_argument("--id", action="append", dest="ids", help="redrive only this message id (repeatable)")
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
            result = redrive(settings, args.queue, args.max, args.ids)
    except QueueError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}), file=sys.stderr)
        return 1
    except AppError as exc:  # unknown queue, queue service down (as the /admin routes answer)
        print(
            json.dumps({"ok": False, "error": exc.code, "message": exc.message, "details": exc.details}),
            file=sys.stderr,
        )
        return 1
    print(json.dumps({"ok": True, "queues": result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
