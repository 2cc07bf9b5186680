"""/v1/users/me: the player's own profile. A player can only ever reach their own row."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from myapi.auth.guards import CurrentUserDep
from myapi.core.schemas import Envelope, ok
from myapi.deps import AuthServiceDep, UserServiceDep
from myapi.ratelimit.deps import rate_limit
from myapi.users.schemas import MeOut, NicknameUpdate, profile_out

router = APIRouter(prefix="/v1/users", tags=["users"], dependencies=[Depends(rate_limit)])


@router.get("/me", summary="My profile with my points balance")
def get_me(user: CurrentUserDep, service: UserServiceDep) -> Envelope[MeOut]:
    return ok(profile_out(service.profile(user.id)))


@router.patch("/me", summary="Change my nickname (unique)")
def patch_me(body: NicknameUpdate, user: CurrentUserDep, service: UserServiceDep) -> Envelope[MeOut]:
    return ok(profile_out(service.change_nickname(user.id, body.nickname)))


@router.delete("/me", summary="Deactivate my account and revoke all my tokens")
def delete_me(user: CurrentUserDep, auth: AuthServiceDep) -> Envelope[dict[str, bool]]:
    auth.deactivate_account(user.id)
    return ok({"deactivated": True})
