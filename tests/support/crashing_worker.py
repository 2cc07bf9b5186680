"""A real saga worker that SIGKILLs itself at one chosen point of a redemption saga:
`CRASH_AT=<step>:<when> python -m tests.support.crashing_worker --queue rewards_saga`.

Points (the first time the saga gets there, the process dies with no clean-up at all):

* `<step>:before_commit` — inside the step (a RedemptionSteps method: hold, reserve,
  begin_vendor_call, record_vendor_state, give_up, commit, compensate; also when another
  step calls it, as reserve and give_up call compensate), after its SQL ran and was
  flushed, before its unit of work commits: the database rolls the step back;
* `<step>:after_commit` — right after the unit of work (RedemptionSaga._step) in which
  the step ran committed and returned, before the saga goes on or the message is deleted;
* `vendor:after_issue` — the vendor answered the issue request (a code exists at the
  vendor), before the commit step records it.

Everything else is batch.worker.main, unchanged.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from batch import worker
from myapi.providers.rewards import SandboxRewardVendor
from myapi.rewards.saga import RedemptionSaga
from myapi.rewards.service import RedemptionSteps

STEPS = ("hold", "reserve", "begin_vendor_call", "record_vendor_state", "give_up", "commit", "compensate")
WHENS = ("before_commit", "after_commit")
POINTS = (*(f"{s}:{w}" for s in STEPS for w in WHENS), "vendor:after_issue")

# The steps that ran in the current unit of work, outermost first (a step may call
# another: reserve compensates when the SKU is out of stock, give_up when it gives up).
_ran: list[str] = []


def die() -> None:
    sys.stderr.write(f"crashing_worker: SIGKILL at {os.environ.get('CRASH_AT')}\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _wrap_step(name: str, kill_inside: bool) -> None:
    original: Callable[..., Any] = getattr(RedemptionSteps, name)

    @functools.wraps(original)
    def step(self: RedemptionSteps, *args: Any, **kwargs: Any) -> Any:
        _ran.append(name)
        result = original(self, *args, **kwargs)
        if kill_inside:
            die()  # the step's SQL ran and was flushed; its transaction is still open
        return result

    setattr(RedemptionSteps, name, step)


def install(point: str) -> None:
    """Patch the saga so that the process kills itself at `point` (one of POINTS)."""
    if point not in POINTS:
        raise SystemExit(f"CRASH_AT must be one of {', '.join(POINTS)}; got {point!r}")
    target, when = point.split(":")
    if target == "vendor":
        issue = SandboxRewardVendor.issue

        @functools.wraps(issue)
        def issue_then_die(self: SandboxRewardVendor, *args: Any, **kwargs: Any) -> Any:
            issue(self, *args, **kwargs)
            die()  # the vendor holds an order with a code; the saga has not recorded it

        SandboxRewardVendor.issue = issue_then_die  # type: ignore[method-assign]
        return
    for name in STEPS:
        _wrap_step(name, kill_inside=name == target and when == "before_commit")
    run_step = RedemptionSaga._step

    @functools.wraps(run_step)
    def step_then_die(self: RedemptionSaga, work: Callable[[RedemptionSteps], Any]) -> Any:
        _ran.clear()
        try:
            result = run_step(self, work)
        finally:
            ran = list(_ran)
            _ran.clear()
        if when == "after_commit" and target in ran:
            die()  # the step's unit of work committed; the saga has not gone on
        return result

    RedemptionSaga._step = step_then_die  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    install(os.environ.get("CRASH_AT", ""))
    return worker.main(argv)


if __name__ == "__main__":
    sys.exit(main())
