"""/admin/dashboard: the operators' dashboard (role ADMIN, router-level guard)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from myapi.auth.guards import require_admin
from myapi.core.schemas import Envelope, ok
from myapi.dashboard.schemas import DashboardOut
from myapi.deps import DashboardServiceDep

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.get(
    "/dashboard",
    summary="The game's daily figures over a range (≤ 366 days; default the last 7), queue and DLQ "
    "depths, outbox lag, the last run of every job",
)
def dashboard(
    service: DashboardServiceDep,
    date_from: Annotated[date | None, Query(alias="from", description="first day (inclusive)")] = None,
    date_to: Annotated[
        date | None, Query(alias="to", description="last day (inclusive); default today's trading day")
    ] = None,
) -> Envelope[DashboardOut]:
    """The operators' dashboard over a range of days (at most 366, the last 7 by default): totals and
    a daily series of active players, predictions, win and VOID rates and points, redemptions
    by status, the most predicted symbols, the queue and dead-letter depths, the outbox lag and
    the last run of every job."""
    return ok(service.dashboard(date_from, date_to))
