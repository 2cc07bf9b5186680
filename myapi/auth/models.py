from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from myapi.core.base import Base, created_at_column


class OAuthState(Base):
    """One authorization attempt: single use, expires after 10 minutes."""

    __tablename__ = "oauth_states"
    __table_args__ = (
        CheckConstraint("provider IN ('GOOGLE', 'KAKAO')", name="provider_known"),
        CheckConstraint("expires_at > created_at", name="expires_after_created"),
        Index(None, "expires_at"),
    )

    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    redirect_uri: Mapped[str] = mapped_column(Text)
    code_verifier: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class RefreshToken(Base):
    """A refresh token, stored only as a hash. Rotation links a token to its successor;
    presenting a rotated token revokes its whole family (reuse detection)."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        CheckConstraint("expires_at > issued_at", name="expires_after_issued"),
        Index(None, "user_id"),
        Index(None, "family_id"),
        # The per-request check that an access token's login is still alive (claim `fam`):
        # one probe, whatever the number of rotated tokens in the family.
        Index("ix_refresh_tokens_live_family", "family_id", postgresql_where=text("revoked_at IS NULL")),
    )

    jti: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    replaced_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("refresh_tokens.jti", ondelete="SET NULL")
    )
