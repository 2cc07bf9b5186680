"""/internal: called by the scheduler (EventBridge) and vendors. Every route requires the
internal token (router-level guard); job routes record a job_runs row."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from myapi.core.deps import ContainerDep
from myapi.core.schemas import Envelope, ok
from myapi.core.security import require_internal
from myapi.cycle.jobs import JobRunner
from myapi.internal.maintenance import MaintenanceService

router = APIRouter(prefix="/internal", tags=["internal"], dependencies=[Depends(require_internal)])


class JobOut(BaseModel):
    run_id: int
    job: str
    status: str
    details: dict[str, Any]


@router.post("/maintenance/gc", summary="Delete expired OAuth states and refresh tokens")
def maintenance_gc(container: ContainerDep) -> Envelope[JobOut]:
    clock = container.clock()
    result = JobRunner(container.sessionmaker(), clock).run(
        "maintenance.gc", lambda session: MaintenanceService(session, clock).gc()
    )
    return ok(JobOut(run_id=result.run_id, job=result.job, status=result.status, details=result.details))
