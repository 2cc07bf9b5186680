"""Local stand-in for EventBridge Scheduler: `python -m batch.scheduler` runs the cycle
tick every SCHEDULER_TICK_INTERVAL_S (and the maintenance GC hourly), in-process.
In AWS, infra/terraform defines the same schedules (timezone Asia/Seoul)."""

from __future__ import annotations

import logging
import sys

from batch.runtime import batch_process, once_flag

logger = logging.getLogger("batch.scheduler")
GC_EVERY_TICKS = 60


def main(argv: list[str] | None = None) -> int:
    once = once_flag("batch.scheduler", __doc__, "one tick, then exit", argv)
    with batch_process() as runtime:
        container, stop = runtime.container, runtime.stop
        settings, jobs = container.settings(), container.jobs()
        ticks = 0
        while not stop.is_set():
            try:
                actions = jobs.tick().details["actions"]
                if actions:
                    logger.info("cycle tick", extra={"actions": actions})
                if ticks % GC_EVERY_TICKS == 0:
                    jobs.gc()
            except Exception:
                logger.exception("scheduled step failed; the next tick retries")
            ticks += 1
            if once:
                break
            stop.wait(settings.scheduler_tick_interval_s)
        return 0


if __name__ == "__main__":
    sys.exit(main())
