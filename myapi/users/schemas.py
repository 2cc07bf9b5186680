from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from myapi.core.enums import UserRole
from myapi.core.schemas import KstDateTime
from myapi.predictions.schemas import StatsOut
from myapi.users.service import AccountStatus, Profile, SuspensionResult, account_status

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


# --- the operator's user management -----------------------------------------------
class AdminUserOut(BaseModel):
    """An account as an operator sees it in a search or after a suspension."""

    id: int
    nickname: str
    email: str | None
    role: UserRole
    is_active: bool
    status: AccountStatus = Field(
        description="SUSPENDED (by an operator), ANONYMISED, DELETION_REQUESTED (by the player, "
        "within its grace period), DEACTIVATED or ACTIVE"
    )
    created_at: KstDateTime
    last_login_at: KstDateTime | None
    balance: int
    suspended_at: KstDateTime | None
    suspension_reason: str | None
    deletion_requested_at: KstDateTime | None

    @classmethod
    def of(cls, profile: Profile) -> AdminUserOut:
        u = profile.user
        return cls(
            id=u.id, nickname=u.nickname, email=u.email, role=u.role, is_active=u.is_active,
            status=account_status(u), created_at=u.created_at, last_login_at=u.last_login_at,
            balance=profile.points_balance, suspended_at=u.suspended_at,
            suspension_reason=u.suspension_reason, deletion_requested_at=u.deletion_requested_at,
        )  # fmt: skip


class SuspensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)] = Field(
        description="Why (audited)"
    )


class SuspensionOut(BaseModel):
    user: AdminUserOut
    changed: bool = Field(description="false: the account was already in that state (nothing changed)")
    revoked_refresh_tokens: int

    @classmethod
    def of(cls, result: SuspensionResult) -> SuspensionOut:
        return cls(
            user=AdminUserOut.of(result.profile),
            changed=result.changed,
            revoked_refresh_tokens=result.revoked_refresh_tokens,
        )
