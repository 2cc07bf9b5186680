"""Queue tooling.

python -m batch.queues ensure   # create/converge every queue and its DLQ (idempotent)
python -m batch.queues status   # depth of every queue and DLQ
"""

from __future__ import annotations

import argparse
import json
import sys

from myapi.core.config import Settings
from myapi.providers.queue import QueueError, SqsQueue, dlq_name_for, ensure_queues, make_sqs_client


def ensure(settings: Settings) -> list[dict[str, object]]:
    ensured = ensure_queues(make_sqs_client(settings), settings)
    return [{"queue": q.name, "dlq": q.dlq_name, "created": q.created, "url": q.url} for q in ensured]


def status(settings: Settings) -> list[dict[str, object]]:
    queue = SqsQueue(make_sqs_client(settings))
    rows: list[dict[str, object]] = []
    for name in settings.queue_names.values():
        for queue_name in (name, dlq_name_for(name)):
            rows.append({"queue": queue_name, **queue.depth(queue_name)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batch.queues", description=__doc__)
    parser.add_argument("command", choices=["ensure", "status"])
    args = parser.parse_args(argv)
    settings = Settings()
    try:
        result = ensure(settings) if args.command == "ensure" else status(settings)
    except QueueError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}), file=sys.stderr)
        return 1
    print(json.dumps({"ok": True, "queues": result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
