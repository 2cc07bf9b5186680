"""SQL for users. Never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import case, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.core.enums import UserRole
from myapi.points.models import PointBalance
from myapi.users.models import User

# Every authenticated request reads one of these: a constant statement, no ORM entity.
# With the token's login (refresh-token family), the same statement tells whether that
# login is still alive: it has a token that is not revoked (rotation revokes the old token
# and adds its successor in one transaction; logout and reuse detection revoke them all).
# ix_refresh_tokens_live_family makes that one index probe.
_ACCESS = text("SELECT role, is_active, token_epoch, true AS session_live FROM crypto.users WHERE id = :id")
_ACCESS_WITH_FAMILY = text(
    """
    SELECT u.role, u.is_active, u.token_epoch,
           EXISTS (SELECT 1 FROM crypto.refresh_tokens r
                    WHERE r.family_id = :family AND r.revoked_at IS NULL AND r.user_id = u.id) AS session_live
      FROM crypto.users u
     WHERE u.id = :id
    """
)


@dataclass(frozen=True)
class UserAccess:
    """What access control needs per request (guards.current_user)."""

    role: UserRole
    is_active: bool
    token_epoch: int
    session_live: bool  # the token's login is alive (true for a token without a family)


class UsersRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def access(self, user_id: int, family_id: uuid.UUID | None = None) -> UserAccess | None:
        """What access control needs per request, or None for no such user: the role,
        whether the account is active, its token epoch, and whether the refresh-token
        family `family_id` (the token's login) still has a live token."""
        if family_id is None:
            row = self.session.execute(_ACCESS, {"id": user_id}).first()
        else:
            row = self.session.execute(_ACCESS_WITH_FAMILY, {"id": user_id, "family": family_id}).first()
        if row is None:
            return None
        return UserAccess(
            UserRole(row.role), bool(row.is_active), int(row.token_epoch), bool(row.session_live)
        )

    def end_sessions(self, user: User) -> None:
        """Bump the account's token epoch (at the next flush, atomically in SQL): every
        access token issued before stops working on its next request. The caller holds
        the row (`get_for_update`) or only needs the epoch to change."""
        user.token_epoch = User.token_epoch + 1

    def get(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def active_by_nickname(self, nickname: str) -> User | None:
        stmt = select(User).where(User.nickname == nickname, User.is_active.is_(True))
        return self.session.scalars(stmt).one_or_none()

    def get_for_update(self, user_id: int) -> User | None:
        stmt = select(User).where(User.id == user_id).with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def find_by_identity(self, provider: str, provider_id: str) -> User | None:
        stmt = select(User).where(User.auth_provider == provider, User.provider_id == provider_id)
        return self.session.scalars(stmt).one_or_none()

    def find_by_email(self, email: str) -> User | None:
        return self.session.scalars(select(User).where(User.email == email)).one_or_none()

    def nickname_taken(self, nickname: str, *, except_user_id: int | None = None) -> bool:
        stmt = select(User.id).where(User.nickname == nickname)
        if except_user_id is not None:
            stmt = stmt.where(User.id != except_user_id)
        return self.session.scalar(stmt) is not None

    def nicknames_like(self, base: str) -> set[str]:
        """Nicknames equal to `base` or of the form `base_N`."""
        escaped = base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = select(User.nickname).where(
            (User.nickname == base) | User.nickname.like(escaped + "\\_%", escape="\\")
        )
        return set(self.session.scalars(stmt))

    def insert_if_absent(
        self,
        *,
        provider: str,
        provider_id: str,
        email: str | None,
        nickname: str,
        role: UserRole,
        now: datetime,
    ) -> int | None:
        """Insert a user; None if (provider, provider_id) already exists. A nickname or
        email collision raises IntegrityError (the caller retries inside a savepoint)."""
        stmt = (
            insert(User)
            .values(
                auth_provider=provider,
                provider_id=provider_id,
                email=email,
                nickname=nickname,
                role=role,
                created_at=now,
                updated_at=now,
                last_login_at=now,
            )
            .on_conflict_do_nothing(index_elements=["auth_provider", "provider_id"])
            .returning(User.id)
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def search(
        self, q: str, match: Literal["prefix", "contains"], limit: int, offset: int
    ) -> tuple[list[tuple[User, int]], int]:
        """Users whose email or nickname contains (or starts with) `q`, case-insensitive,
        each with their balance; exact matches first, then prefixes, then the rest, oldest
        account first within each. ILIKE on both columns: served by their trigram GIN
        indexes (ix_users_email_trgm, ix_users_nickname_trgm; a BitmapOr of the two)
        for a `q` of 3 characters or more. Returns (page, total matches)."""
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        prefix = escaped + "%"
        pattern = prefix if match == "prefix" else "%" + prefix
        where = or_(User.email.ilike(pattern, escape="\\"), User.nickname.ilike(pattern, escape="\\"))
        lowered = q.lower()
        rank = case(
            (or_(User.email == lowered, func.lower(User.nickname) == lowered), 0),
            (or_(User.email.ilike(prefix, escape="\\"), User.nickname.ilike(prefix, escape="\\")), 1),
            else_=2,
        )
        total = int(self.session.scalar(select(func.count()).select_from(User).where(where)) or 0)
        stmt = (
            select(User, func.coalesce(PointBalance.balance, 0))
            .outerjoin(PointBalance, PointBalance.user_id == User.id)
            .where(where)
            .order_by(rank, User.id)
            .limit(limit)
            .offset(offset)
        )
        return [(user, int(balance)) for user, balance in self.session.execute(stmt)], total

    def revoke_refresh_tokens(self, user_id: int, now: datetime) -> int:
        """Revoke every live refresh token of the user (their sessions end: a revoked
        token presented again is refused). Returns how many were revoked."""
        result = self.session.execute(
            text(
                "UPDATE crypto.refresh_tokens SET revoked_at = :now WHERE user_id = :u AND revoked_at IS NULL"
            ),
            {"u": user_id, "now": now},
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def touch_login(self, user_id: int, now: datetime) -> None:
        self.session.execute(update(User).where(User.id == user_id).values(last_login_at=now))

    def deletion_due(self, requested_before: datetime) -> bool:
        """Whether some account's grace period (asked at or before `requested_before`) is over
        and it is not anonymised yet (an index probe: ix_users_deletion_due)."""
        return bool(
            self.session.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM crypto.users WHERE deletion_requested_at <= :before "
                    "AND anonymised_at IS NULL)"
                ),
                {"before": requested_before},
            ).scalar()
        )

    def anonymise_due(self, requested_before: datetime, now: datetime, limit: int) -> list[int]:
        """Erase the personal data of up to `limit` accounts whose deletion was asked
        before `requested_before` and which are still inactive: email gone, nickname
        "deleted-<id>", provider id "erased:<id>"; their tokens, devices and inbox
        deleted (ERASED_WITH_ACCOUNT). Predictions, the ledger, holds, redemptions and
        the audit log keep the (now anonymous) user id, so every total stays consistent.
        Rows another run holds are skipped. Returns the ids anonymised."""
        ids = [
            int(i)
            for i in self.session.execute(
                text(
                    """
                    WITH due AS (
                        SELECT id FROM crypto.users
                        WHERE deletion_requested_at <= :before AND anonymised_at IS NULL AND NOT is_active
                        ORDER BY deletion_requested_at, id
                        LIMIT :limit
                        FOR UPDATE SKIP LOCKED
                    )
                    UPDATE crypto.users u
                       SET email = NULL, nickname = 'deleted-' || u.id, provider_id = 'erased:' || u.id,
                           anonymised_at = :now, updated_at = :now
                      FROM due WHERE u.id = due.id
                    RETURNING u.id
                    """
                ),
                {"before": requested_before, "now": now, "limit": limit},
            ).scalars()
        ]
        if ids:
            for table in ERASED_WITH_ACCOUNT:
                self.session.execute(
                    text(f"DELETE FROM {table} WHERE user_id = ANY(:ids)"), {"ids": sorted(ids)}
                )
        return sorted(ids)


# What goes with an anonymised account (rows keyed by its user id, in this order): its
# sessions, its inbox (with the inbox's push deliveries), its devices and push settings.
# What the game's totals are made of stays.
ERASED_WITH_ACCOUNT: tuple[str, ...] = (
    "crypto.refresh_tokens", "crypto.notifications", "crypto.push_devices", "crypto.push_preferences",
)  # fmt: skip


# A player's own data, table by table and column by column (listed, so that internal
# columns — saga state, vendor keys, receipt nonces, refs — and any column added later
# stay out). Internal tables (tokens, OAuth states, idempotency keys) are not listed.
EXPORT_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "predictions": ("crypto.predictions", (
        "id", "trading_day", "symbol", "choice", "status", "baseline_price", "points_awarded",
        "void_reason", "submitted_at", "updated_at", "settled_at",
    )),
    "points_ledger": ("crypto.points_ledger", (
        "id", "delta_points", "reason", "balance_after", "trading_day", "symbol", "created_at",
    )),
    "points_holds": ("crypto.points_holds", ("id", "amount", "status", "created_at", "updated_at")),
    "ad_unlocks": ("crypto.ad_unlocks", ("id", "trading_day", "method", "unlocked_slots", "created_at")),
    "redemptions": ("crypto.rewards_redemptions", (
        "id", "sku", "cost_points", "status", "vendor_code", "failure_reason", "created_at",
        "reserved_at", "issued_at", "finished_at",
    )),
    "notifications": ("crypto.notifications", (
        "id", "category", "title", "body", "data", "created_at", "read_at",
    )),
    # Devices without their push tokens (a credential of the push service, not data).
    "devices": ("crypto.push_devices", ("id", "platform", "created_at", "last_seen_at")),
    "push_preferences": ("crypto.push_preferences", (
        "muted_categories", "quiet_start", "quiet_end", "updated_at",
    )),
}  # fmt: skip


class UserExportRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def rows(self, user_id: int) -> dict[str, list[dict[str, Any]]]:
        """Every row of the player's own data per table, oldest first, as JSON objects
        of the listed columns (EXPORT_COLUMNS)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for name, (table, columns) in EXPORT_COLUMNS.items():
            fields = ", ".join(f"'{c}', t.{c}" for c in columns)
            rows = self.session.execute(
                text(
                    f"SELECT jsonb_build_object({fields}) FROM {table} t WHERE t.user_id = :u "
                    f"ORDER BY {'t.id' if columns[0] == 'id' else '1'}"
                ),
                {"u": user_id},
            ).scalars()
            out[name] = list(rows)
        return out
