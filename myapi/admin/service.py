"""Operator use cases that span domains: point adjustments, the integrity report,
job runs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from myapi.admin.repository import CheckResult, IntegrityRepository
from myapi.audit.repository import AuditRepository
from myapi.core.clock import Clock
from myapi.core.errors import NotFoundError
from myapi.jobs.models import JobRun
from myapi.jobs.repository import JobRunsRepository
from myapi.points.service import LedgerResult, PointsLedger
from myapi.users.repository import UsersRepository


@dataclass(frozen=True)
class IntegrityReport:
    passed: bool
    checks: list[CheckResult]


class AdminService:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def adjust_points(
        self, *, admin_id: int, user_id: int, delta: int, reason: str
    ) -> tuple[int, LedgerResult]:
        """Operator adjustment: audited first, then applied with ref ADMIN:{audit_id}, so
        every adjustment is its own ledger entry and traceable to who and why."""
        if UsersRepository(self._session).get(user_id) is None:
            raise NotFoundError("User not found", code="USER_404")
        audit_id = AuditRepository(self._session).record(
            actor=f"user:{admin_id}",
            actor_user_id=admin_id,
            action="points.adjust",
            target=f"user:{user_id}",
            payload={"delta": delta, "reason": reason},
            now=self._clock.now(),
        )
        result = PointsLedger(self._session, self._clock).apply(
            user_id=user_id, delta=delta, reason="admin_adjustment", ref_type="ADMIN", ref_id=str(audit_id)
        )
        return audit_id, result

    def integrity(self, limit: int) -> IntegrityReport:
        """Every invariant: pass or fail, with up to `limit` offending rows each."""
        checks = IntegrityRepository(self._session).run(limit, self._clock.now())
        return IntegrityReport(passed=all(c.passed for c in checks), checks=checks)

    def job_runs(self, limit: int, job: str | None) -> list[JobRun]:
        """Recent job runs, newest first, optionally of one job."""
        return JobRunsRepository(self._session).recent(limit, job)
