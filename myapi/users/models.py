from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base, created_at_column
from myapi.core.enums import USER_ROLE, UserRole


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("auth_provider", "provider_id"),
        # Emails are stored lower-case, so a plain UNIQUE is case-insensitive.
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("auth_provider IN ('GOOGLE', 'KAKAO', 'DEV')", name="auth_provider_known"),
        CheckConstraint("char_length(nickname) BETWEEN 2 AND 30", name="nickname_length"),
        CheckConstraint("deletion_requested_at IS NULL OR NOT is_active", name="deletion_only_when_inactive"),
        Index(
            "ix_users_deletion_due",
            "deletion_requested_at",
            postgresql_where=text("deletion_requested_at IS NOT NULL AND anonymised_at IS NULL"),
        ),
        CheckConstraint("suspended_at IS NULL OR NOT is_active", name="suspended_only_when_inactive"),
        CheckConstraint(
            "(suspended_at IS NULL) = (suspension_reason IS NULL)", name="suspension_with_reason"
        ),
        CheckConstraint("token_epoch >= 0", name="token_epoch_not_negative"),
        # The admin user search: ILIKE substrings and prefixes of either (pg_trgm).
        Index(
            "ix_users_email_trgm", "email", postgresql_using="gin", postgresql_ops={"email": "gin_trgm_ops"}
        ),
        Index(
            "ix_users_nickname_trgm",
            "nickname",
            postgresql_using="gin",
            postgresql_ops={"nickname": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    nickname: Mapped[str] = mapped_column(String(30), unique=True)
    role: Mapped[UserRole] = mapped_column(USER_ROLE, server_default=text("'USER'"))
    auth_provider: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_login_at: Mapped[datetime | None]
    deactivated_at: Mapped[datetime | None]
    # The player asked to delete the account (DELETE /v1/users/me); signing in again
    # within the grace period clears it, after it the account is anonymised.
    deletion_requested_at: Mapped[datetime | None]
    anonymised_at: Mapped[datetime | None]
    # An operator suspended the account (POST /admin/users/{id}/suspend): inactive until
    # an operator reactivates it; signing in is refused (AUTH_005), whatever the
    # deletion state. Distinct from a deletion request, which the player can undo.
    suspended_at: Mapped[datetime | None]
    suspension_reason: Mapped[str | None] = mapped_column(String(500))
    # Every access token carries the epoch it was issued under (claim `ep`) and the
    # per-request lookup refuses any other: bumping it ends every session of the account
    # at once (suspension, reactivation, deletion, demotion; docs/auth.md).
    token_epoch: Mapped[int] = mapped_column(Integer, server_default=text("0"))
