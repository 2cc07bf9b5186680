from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from myapi.core.enums import UserRole
from myapi.core.schemas import KstDateTime
from myapi.predictions.schemas import StatsOut
from myapi.users.service import Profile

NICKNAME_PATTERN = r"^[0-9A-Za-z_가-힣]{2,30}$"


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str | None
    nickname: str
    role: UserRole
    auth_provider: str
    is_active: bool
    created_at: KstDateTime
    last_login_at: KstDateTime | None


class MeOut(UserOut):
    points_balance: int


class NicknameUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nickname: str = Field(
        pattern=NICKNAME_PATTERN,
        description="2-30 characters: letters, digits, underscore or Hangul",
        examples=["stock_kim"],
    )


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: UserRole
    reason: str = Field(min_length=3, max_length=500)


def me_out(user: object, points_balance: int) -> MeOut:
    fields = {name: getattr(user, name) for name in UserOut.model_fields}
    return MeOut.model_validate({**fields, "points_balance": points_balance})


def profile_out(profile: Profile) -> MeOut:
    """A `users.service.Profile` (the user and their balance) as the API shows it."""
    return me_out(profile.user, profile.points_balance)


class PublicProfileOut(BaseModel):
    """What any player may see of another: no email, no provider ids."""

    nickname: str
    joined_at: KstDateTime
    stats: StatsOut


class DeletedOut(BaseModel):
    deactivated: bool
    anonymise_at: KstDateTime | None = Field(
        description="When the account's personal data will be erased unless I sign in again before"
    )
