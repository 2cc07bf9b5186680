"""SQL for OAuth states and refresh tokens. Never commits."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from myapi.auth.models import OAuthState, RefreshToken


class AuthRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- OAuth states ----------------------------------------------------------
    def add_state(self, state: OAuthState) -> None:
        self.session.add(state)
        self.session.flush()

    def lock_state(self, state: str) -> OAuthState | None:
        """The state row, locked: concurrent callbacks with one state are serialised, so
        only the first can consume it."""
        stmt = select(OAuthState).where(OAuthState.state == state).with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def mark_state_used(self, state: str, now: datetime) -> None:
        self.session.execute(update(OAuthState).where(OAuthState.state == state).values(used_at=now))

    def delete_expired_states(self, now: datetime) -> int:
        result = self.session.execute(delete(OAuthState).where(OAuthState.expires_at <= now))
        return int(getattr(result, "rowcount", 0) or 0)

    # --- refresh tokens --------------------------------------------------------
    def add_refresh_token(self, token: RefreshToken) -> None:
        self.session.add(token)
        self.session.flush()

    def lock_refresh_by_hash(self, token_hash: str) -> RefreshToken | None:
        stmt = select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def mark_rotated(self, jti: uuid.UUID, replaced_by: uuid.UUID, now: datetime) -> None:
        self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.jti == jti)
            .values(revoked_at=now, replaced_by=replaced_by)
        )

    def revoke_family(self, family_id: uuid.UUID, now: datetime) -> int:
        result = self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def revoke_all_for_user(self, user_id: int, now: datetime) -> int:
        result = self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def delete_expired_refresh_tokens(self, now: datetime) -> int:
        # replaced_by points at newer rows of the same family; expired families go whole.
        result = self.session.execute(delete(RefreshToken).where(RefreshToken.expires_at <= now))
        return int(getattr(result, "rowcount", 0) or 0)
