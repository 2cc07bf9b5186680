"""/v1/users/me: the player's own profile. A player can only ever reach their own row."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from myapi.core.db import DbSession
from myapi.core.deps import ContainerDep
from myapi.core.ratelimit import rate_limit
from myapi.core.schemas import Envelope, ok
from myapi.core.security import CurrentUserDep
from myapi.users.schemas import MeOut, NicknameUpdate, me_out
from myapi.users.service import Profile, UserService

router = APIRouter(prefix="/v1/users", tags=["users"], dependencies=[Depends(rate_limit)])


def profile_out(profile: Profile) -> MeOut:
    return me_out(profile.user, profile.points_balance)


@router.get("/me", summary="My profile with my points balance")
def get_me(user: CurrentUserDep, session: DbSession, container: ContainerDep) -> Envelope[MeOut]:
    return ok(profile_out(UserService(session, container.clock()).profile(user.id)))


@router.patch("/me", summary="Change my nickname (unique)")
def patch_me(
    body: NicknameUpdate, user: CurrentUserDep, session: DbSession, container: ContainerDep
) -> Envelope[MeOut]:
    profile = UserService(session, container.clock()).change_nickname(user.id, body.nickname)
    return ok(profile_out(profile))


@router.delete("/me", summary="Deactivate my account and revoke all my tokens")
def delete_me(user: CurrentUserDep, session: DbSession, container: ContainerDep) -> Envelope[dict[str, bool]]:
    UserService(session, container.clock()).deactivate(user.id)
    return ok({"deactivated": True})
