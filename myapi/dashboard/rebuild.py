"""Write the dashboard summary of settled days that have none or a suspect one: the days
settled before migration 0014, or after restoring a backup.

    python -m myapi.dashboard.rebuild --from 2026-01-02 [--to 2026-11-30]

Each settled day of the range is refreshed as the settlement follow-up does it
(`DashboardSummary.refresh`: one unit of work per day, a `job_runs` row named
`dashboard.rebuild`, the settlement's statement timeout). Idempotent: re-running it
writes the same figures. Prints one JSON line per day, then a summary line.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from myapi.container import build_container, shutdown_container
from myapi.core.db import batch_statement_timeout, unit_of_work
from myapi.jobs.runner import JobRunner

JOB = "dashboard.rebuild"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m myapi.dashboard.rebuild", description=__doc__)
    parser.add_argument("--from", dest="first", type=date.fromisoformat, required=True, help="first day")
    parser.add_argument("--to", dest="last", type=date.fromisoformat, help="last day (default: today)")
    args = parser.parse_args(argv)
    container = build_container()
    try:
        clock, factory = container.clock(), container.sessionmaker()
        last: date = args.last or container.calendar().trading_day_for(clock.now())
        with unit_of_work(factory) as session:
            days = container.dashboard_summary(session).settled_days(args.first, last)
        runner = JobRunner(factory, clock)
        timeout_ms = container.settings().settlement_statement_timeout_ms
        failed = 0
        for day in days:

            def work(session: Session, day: date = day) -> dict[str, Any]:
                batch_statement_timeout(session, timeout_ms)
                result: dict[str, Any] = container.dashboard_summary(session).refresh(day)
                return result

            try:
                print(json.dumps(runner.run(JOB, work, day).details), flush=True)
            except Exception as exc:  # recorded in job_runs; the other days go on
                failed += 1
                print(json.dumps({"trading_day": day.isoformat(), "error": repr(exc)[:500]}), flush=True)
        print(json.dumps({"days": len(days), "failed": failed}), flush=True)
        return 1 if failed else 0
    finally:
        shutdown_container(container)


if __name__ == "__main__":
    sys.exit(main())
