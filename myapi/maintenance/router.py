"""/admin/maintenance: the maintenance-mode switch (ADMIN only; audited)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from myapi.auth.guards import AdminDep, require_admin
from myapi.core.schemas import Envelope, ok
from myapi.deps import MaintenanceModeDep
from myapi.maintenance.schemas import MaintenanceIn, MaintenanceOut

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.get("/maintenance", summary="Whether maintenance mode is on")
def maintenance_state(mode: MaintenanceModeDep) -> Envelope[MaintenanceOut]:
    """Whether maintenance mode is on, with its message, Retry-After and who changed it when."""
    return ok(MaintenanceOut.model_validate(mode.state()))


@router.put(
    "/maintenance",
    summary="Turn maintenance mode on or off: while on, player writes answer 503 MAINT_001 (audited)",
)
def set_maintenance(
    body: MaintenanceIn, admin: AdminDep, mode: MaintenanceModeDep
) -> Envelope[MaintenanceOut]:
    """Turns maintenance mode on or off (audited). While on, every player write under /v1 except
    sign-in and token refresh answers 503 `MAINT_001` with Retry-After; reads, /admin, /internal and
    the workers carry on."""
    state = mode.set(
        enabled=body.enabled, message=body.message, retry_after_s=body.retry_after_s, actor=f"user:{admin.id}"
    )
    return ok(MaintenanceOut.model_validate(state))
