"""/admin: operator routes. Every route here requires role ADMIN (router-level guard)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from myapi.admin.integrity import IntegrityRepository
from myapi.core.db import DbSession
from myapi.core.deps import ContainerDep
from myapi.core.schemas import Envelope, ok
from myapi.core.security import AdminDep, require_admin
from myapi.cycle.repository import JobRunsRepository
from myapi.points.schemas import AdjustIn, AdjustOut
from myapi.points.service import PointsLedger
from myapi.settlement.schemas import SettlementSummaryOut
from myapi.settlement.service import SettlementQueries
from myapi.universe.schemas import UniverseUpsertIn, UniverseUpsertOut
from myapi.universe.service import UniverseService
from myapi.users.router import profile_out
from myapi.users.schemas import MeOut, RoleUpdate
from myapi.users.service import UserService

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.get("/users/{user_id}", summary="Look up a user with their points balance")
def get_user(user_id: int, session: DbSession, container: ContainerDep) -> Envelope[MeOut]:
    return ok(profile_out(UserService(session, container.clock()).profile(user_id)))


@router.patch("/users/{user_id}/role", summary="Grant or revoke ADMIN (audited)")
def set_role(
    user_id: int, body: RoleUpdate, admin: AdminDep, session: DbSession, container: ContainerDep
) -> Envelope[MeOut]:
    profile = UserService(session, container.clock()).set_role(admin.id, user_id, body.role, body.reason)
    return ok(profile_out(profile))


@router.post("/universe/upsert", summary="Replace a trading day's universe atomically (audited)")
def universe_upsert(
    body: UniverseUpsertIn, admin: AdminDep, session: DbSession, container: ContainerDep
) -> Envelope[UniverseUpsertOut]:
    service = UniverseService(session, container.clock(), container.settings(), container.calendar())
    result = service.upsert(body.trading_day, body.symbols, actor=f"user:{admin.id}", actor_user_id=admin.id)
    return ok(result)


@router.post("/users/{user_id}/adjust-points", summary="Add or take points (reason required; audited)")
def adjust_points(
    user_id: int, body: AdjustIn, admin: AdminDep, session: DbSession, container: ContainerDep
) -> Envelope[AdjustOut]:
    audit_id, result = PointsLedger(session, container.clock()).adjust(
        admin_id=admin.id, user_id=user_id, delta=body.delta, reason=body.reason
    )
    return ok(
        AdjustOut(
            audit_id=audit_id,
            entry_id=result.entry_id,
            delta=result.delta,
            balance_after=result.balance_after,
        )
    )


class IntegrityCheckOut(BaseModel):
    name: str
    description: str
    passed: bool
    offending: list[dict[str, Any]]


class IntegrityOut(BaseModel):
    passed: bool
    checks: list[IntegrityCheckOut]


@router.get("/integrity", summary="Every ledger/game invariant: pass or fail, with offending rows")
def integrity(session: DbSession, limit: int = Query(default=20, ge=1, le=200)) -> Envelope[IntegrityOut]:
    checks = [IntegrityCheckOut(**r.__dict__) for r in IntegrityRepository(session).run(limit)]
    return ok(IntegrityOut(passed=all(c.passed for c in checks), checks=checks))


@router.get("/settlement/{trading_day}", summary="Settlement summary: counts, points, VOID reasons")
def settlement_summary(trading_day: date, session: DbSession) -> Envelope[SettlementSummaryOut]:
    row, summary = SettlementQueries(session).summary(trading_day)
    return ok(SettlementSummaryOut(trading_day=trading_day, settled_at=row.settled_at, **summary))


class JobRunOut(BaseModel):
    id: int
    job: str
    trading_day: date | None
    status: str
    details: dict[str, Any]
    error: str | None


@router.get("/jobs", summary="Recent batch job runs (newest first), optionally of one job")
def job_runs(
    session: DbSession,
    job: str | None = Query(default=None, max_length=64),
    limit: int = Query(default=50, ge=1, le=500),
) -> Envelope[list[JobRunOut]]:
    rows = JobRunsRepository(session).recent(limit, job)
    return ok(
        [
            JobRunOut(
                id=r.id,
                job=r.job,
                trading_day=r.trading_day,
                status=r.status,
                details=r.details,
                error=r.error,
            )
            for r in rows
        ]
    )
