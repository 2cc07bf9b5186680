"""/admin: operator routes. Every route here requires role ADMIN (router-level guard)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from myapi.core.db import DbSession
from myapi.core.deps import ContainerDep
from myapi.core.schemas import Envelope, ok
from myapi.core.security import AdminDep, require_admin
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
