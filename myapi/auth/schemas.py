from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from myapi.core.enums import UserRole
from myapi.users.schemas import NICKNAME_PATTERN, MeOut


class ProviderName(StrEnum):
    google = "google"
    kakao = "kakao"

    @property
    def key(self) -> str:
        return self.value.upper()


class OAuthCallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: ProviderName
    code: str = Field(min_length=1, max_length=2048)
    state: str = Field(min_length=1, max_length=128)
    redirect_uri: str = Field(min_length=1, max_length=2048)


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=512)


class DevLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    nickname: str | None = Field(default=None, pattern=NICKNAME_PATTERN)
    role: UserRole | None = None


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int


class SignupBonusOut(BaseModel):
    points: int = Field(description="Points credited by this first login")
    refused_because: str | None = Field(
        default=None,
        description="EMAIL_ALREADY_REGISTERED: the bonus is paid once per verified email address, "
        "and this email already belongs to another account",
    )


class LoginOut(TokensOut):
    user: MeOut
    is_new_user: bool
    reactivated: bool = Field(
        default=False,
        description="This sign-in reactivated an account its player had deleted (within the grace period)",
    )
    signup_bonus: SignupBonusOut | None = Field(default=None, description="First login only")


class LogoutOut(BaseModel):
    revoked: int
