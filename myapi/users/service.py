"""Player profile use cases and the operator's user management."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from myapi.audit.repository import AuditRepository
from myapi.core.clock import Clock
from myapi.core.enums import UserRole
from myapi.core.errors import AppError, NotFoundError
from myapi.points.repository import PointsRepository
from myapi.users.models import User
from myapi.users.repository import UserExportRepository, UsersRepository


class NicknameTakenError(AppError):
    status_code = 409
    code = "USER_001"
    message = "That nickname is taken"


class CannotSuspendSelfError(AppError):
    status_code = 409
    code = "USER_002"
    message = "An operator cannot suspend their own account"


class AccountDeletedError(AppError):
    status_code = 409
    code = "USER_003"
    message = "The account was deleted by its player"


@dataclass(frozen=True)
class Profile:
    user: User
    points_balance: int


AccountStatus = Literal["ACTIVE", "SUSPENDED", "DELETION_REQUESTED", "ANONYMISED", "DEACTIVATED"]


def account_status(user: User) -> AccountStatus:
    """What keeps an account from playing, the strongest first: a suspension (an
    operator's), then the player's own deletion (erased, or within its grace period)."""
    if user.suspended_at is not None:
        return "SUSPENDED"
    if user.anonymised_at is not None:
        return "ANONYMISED"
    if user.deletion_requested_at is not None:
        return "DELETION_REQUESTED"
    return "ACTIVE" if user.is_active else "DEACTIVATED"


@dataclass(frozen=True)
class SuspensionResult:
    """A suspend or reactivate: the account afterwards, whether this call changed it,
    and the refresh tokens it revoked."""

    profile: Profile
    changed: bool
    revoked_refresh_tokens: int = 0


LIFECYCLE_ACTOR = "internal:lifecycle"


class UserService:
    def __init__(self, session: Session, clock: Clock, deletion_grace_days: int) -> None:
        self._session = session
        self._clock = clock
        self._users = UsersRepository(session)
        self._grace = timedelta(days=deletion_grace_days)

    def _get(self, user_id: int) -> User:
        user = self._users.get(user_id)
        if user is None:
            raise NotFoundError("User not found", code="USER_404")
        return user

    def profile(self, user_id: int) -> Profile:
        user = self._get(user_id)
        return Profile(user, PointsRepository(self._session).balance_of(user_id))

    def export(self, user_id: int) -> dict[str, Any]:
        """Everything the game holds about the player (their profile, predictions,
        ledger, holds, ad unlocks, redemptions with their codes, notifications), as JSON
        data: the player's copy of their data."""
        profile = self.profile(user_id)
        user = profile.user
        return {
            "exported_at": self._clock.now().isoformat(),
            "profile": {
                "id": user.id, "email": user.email, "nickname": user.nickname, "role": str(user.role),
                "auth_provider": user.auth_provider, "is_active": user.is_active,
                "created_at": user.created_at.isoformat(),
                "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
                "points_balance": profile.points_balance,
            },
            **UserExportRepository(self._session).rows(user_id),
        }  # fmt: skip

    def public(self, nickname: str) -> User:
        """An active player by nickname (USER_404 otherwise): for their public profile."""
        user = self._users.active_by_nickname(nickname)
        if user is None:
            raise NotFoundError("No such player", code="USER_404")
        return user

    def change_nickname(self, user_id: int, nickname: str) -> Profile:
        """Nicknames are unique (case-sensitive, as stored); a taken one is USER_001."""
        user = self._get(user_id)
        if user.nickname != nickname:
            if self._users.nickname_taken(nickname, except_user_id=user_id):
                raise NicknameTakenError()
            user.nickname = nickname
            user.updated_at = self._clock.now()
            try:
                with self._session.begin_nested():
                    self._session.flush()
            except IntegrityError as exc:  # lost a race for the same nickname
                raise NicknameTakenError() from exc
        return self.profile(user_id)

    # --- account lifecycle -----------------------------------------------------------
    def anonymise_at(self, user: User) -> datetime | None:
        """When a deleted account's personal data will be erased, or None."""
        if user.deletion_requested_at is None or user.anonymised_at is not None:
            return None
        return user.deletion_requested_at + self._grace

    def deletions_due(self) -> bool:
        return self._users.deletion_due(self._clock.now() - self._grace)

    def anonymise_due(self, limit: int = 500) -> dict[str, Any]:
        """Anonymise up to `limit` accounts whose grace period is over (each audited);
        a job runs it while any is due. Idempotent: an anonymised account is done."""
        now = self._clock.now()
        ids = self._users.anonymise_due(now - self._grace, now, limit)
        audit = AuditRepository(self._session)
        for user_id in ids:
            audit.record(
                actor=LIFECYCLE_ACTOR, action="user.anonymise", target=f"user:{user_id}",
                payload={"grace_days": self._grace.days}, now=now,
            )  # fmt: skip
        return {"anonymised": len(ids), "more": len(ids) == limit}

    # --- the operator's user management --------------------------------------------
    def search(
        self, q: str, match: Literal["prefix", "contains"], limit: int, offset: int
    ) -> tuple[list[Profile], int]:
        """Accounts whose email or nickname contains (`match="prefix"`: starts with) `q`,
        case-insensitive, exact matches first; each with its balance. Every account is
        found, whatever its state (see `account_status`)."""
        rows, total = self._users.search(q.strip(), match, limit, offset)
        return [Profile(user, balance) for user, balance in rows], total

    def suspend(self, admin_id: int, user_id: int, reason: str) -> SuspensionResult:
        """An operator suspends an account: inactive at once (every request re-checks
        `is_active`, so its access tokens stop working; the leaderboard drops it through
        the users trigger), every refresh token revoked, the token epoch bumped (so no
        token from before comes back with a reactivation), and signing in refused
        (AUTH_005) until an operator reactivates it — a pending deletion request does not
        give it back either. Audited (`user.suspend`). An operator cannot suspend
        themselves (USER_002); an anonymised account has nothing left to suspend
        (USER_003). Idempotent: an account
        already suspended keeps its first suspension (`changed` false, no audit row);
        its refresh tokens are revoked, and its epoch bumped, again all the same."""
        if admin_id == user_id:
            raise CannotSuspendSelfError()
        user = self._lock(user_id)
        if user.anonymised_at is not None:
            raise AccountDeletedError("The account was deleted by its player and erased")
        now = self._clock.now()
        changed = user.suspended_at is None
        if changed:
            was_active = user.is_active
            user.is_active = False
            user.suspended_at = now
            user.suspension_reason = reason
            user.deactivated_at = user.deactivated_at or now
            user.updated_at = now
        self._users.end_sessions(user)
        revoked = self._users.revoke_refresh_tokens(user_id, now)
        if changed:
            AuditRepository(self._session).record(
                actor=f"user:{admin_id}", actor_user_id=admin_id, action="user.suspend",
                target=f"user:{user_id}", now=now,
                payload={"reason": reason, "was_active": was_active, "revoked_refresh_tokens": revoked},
            )  # fmt: skip
        self._session.flush()
        return SuspensionResult(self.profile(user_id), changed, revoked)

    def reactivate(self, admin_id: int, user_id: int, reason: str) -> SuspensionResult:
        """An operator lifts a suspension (or an operator's deactivation recorded without
        one): the account is active again and the player signs in as before. Only the
        suspension is the operator's to lift: an account whose player asked for its
        deletion stays inactive (the player gets it back by signing in within the grace
        period), an anonymised one stays erased. Audited (`user.reactivate`).
        Nothing from before the suspension comes back: the epoch is bumped again and a
        refresh token still live (one a refresh that raced the suspension inserted after
        the suspension's revocation ran) is revoked (`revoked_refresh_tokens`, normally
        0); the player signs in again.
        Idempotent: with nothing to lift (an active account, or one only its player
        deleted) nothing changes (`changed` false, no audit row)."""
        user = self._lock(user_id)
        deleted = user.deletion_requested_at is not None or user.anonymised_at is not None
        suspended_at, suspended_for = user.suspended_at, user.suspension_reason
        changed = suspended_at is not None or not (user.is_active or deleted)
        revoked = 0
        if changed:
            now = self._clock.now()
            user.suspended_at = None
            user.suspension_reason = None
            if not deleted:
                user.is_active = True
                user.deactivated_at = None
            user.updated_at = now
            self._users.end_sessions(user)
            revoked = self._users.revoke_refresh_tokens(user_id, now)
            AuditRepository(self._session).record(
                actor=f"user:{admin_id}", actor_user_id=admin_id, action="user.reactivate",
                target=f"user:{user_id}", now=now,
                payload={
                    "reason": reason, "suspension_reason": suspended_for,
                    "suspended_at": suspended_at.isoformat() if suspended_at else None,
                    "is_active": user.is_active, "revoked_refresh_tokens": revoked,
                },
            )  # fmt: skip
            self._session.flush()
        return SuspensionResult(self.profile(user_id), changed, revoked)

    def _lock(self, user_id: int) -> User:
        user = self._users.get_for_update(user_id)
        if user is None:
            raise NotFoundError("User not found", code="USER_404")
        return user

    def set_role(self, actor: int, user_id: int, role: UserRole, reason: str) -> Profile:
        """Operator action: grant or revoke ADMIN. Audited. The role is read from the
        database on every request, so either applies at once; a demotion also bumps the
        token epoch, so no token claiming ADMIN for the account lives on (its sessions
        end: the player refreshes or signs in again). A promotion leaves its tokens be."""
        user = self._users.get_for_update(user_id)
        if user is None:
            raise NotFoundError("User not found", code="USER_404")
        previous = user.role
        now = self._clock.now()
        if previous == UserRole.ADMIN and role != UserRole.ADMIN:
            self._users.end_sessions(user)
        user.role = role
        user.updated_at = now
        AuditRepository(self._session).record(
            actor=f"user:{actor}",
            actor_user_id=actor,
            action="user.set_role",
            target=f"user:{user_id}",
            payload={"from": previous.value, "to": role.value, "reason": reason},
            now=now,
        )
        self._session.flush()
        return self.profile(user_id)
