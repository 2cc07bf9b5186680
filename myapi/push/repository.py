"""SQL for push devices, preferences and deliveries. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.push.models import PushDelivery, PushDevice, PushPreferences


@dataclass(frozen=True)
class DueDelivery:
    """A claimed delivery with what deciding and sending it needs."""

    notification_id: int
    device_id: int
    attempts: int
    user_id: int  # the notification's player
    category: str
    title: str
    body: str
    data: dict[str, Any]
    notified_at: datetime  # the notification's created_at
    device_user_id: int | None  # None: the device is gone
    token: str | None
    user_active: bool
    has_preferences: bool
    muted_categories: tuple[str, ...]
    quiet_start: time | None
    quiet_end: time | None

    @property
    def key(self) -> tuple[int, int]:
        return self.notification_id, self.device_id


# The due deliveries, oldest due first, locked (SKIP LOCKED: two passes never take the
# same row) with what the rules need; only the delivery rows are locked.
_CLAIM = text(
    """
    SELECT pd.notification_id, pd.device_id, pd.attempts,
           n.user_id, n.category, n.title, n.body, n.data, n.created_at AS notified_at,
           d.user_id AS device_user_id, d.token,
           u.is_active AS user_active,
           p.user_id IS NOT NULL AS has_preferences, p.muted_categories, p.quiet_start, p.quiet_end
    FROM crypto.push_deliveries pd
    JOIN crypto.notifications n ON n.id = pd.notification_id
    JOIN crypto.users u ON u.id = n.user_id
    LEFT JOIN crypto.push_devices d ON d.id = pd.device_id
    LEFT JOIN crypto.push_preferences p ON p.user_id = n.user_id
    WHERE pd.status = 'PENDING' AND pd.next_attempt_at <= :now
      AND (pd.lease_until IS NULL OR pd.lease_until <= :now)
    ORDER BY pd.next_attempt_at, pd.notification_id, pd.device_id
    LIMIT :limit
    FOR UPDATE OF pd SKIP LOCKED
    """
)


class PushRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- devices ------------------------------------------------------------------------
    def device_by_token(self, token: str) -> PushDevice | None:
        """The device with `token`, row locked (a registration moving it waits)."""
        return self.session.scalars(
            select(PushDevice).where(PushDevice.token == token).with_for_update()
        ).one_or_none()

    def insert_device(self, user_id: int, token: str, platform: str, now: datetime) -> PushDevice | None:
        """A new device; None if the token exists (registered meanwhile by another request)."""
        device_id = self.session.execute(
            insert(PushDevice)
            .values(user_id=user_id, token=token, platform=platform, created_at=now, last_seen_at=now)
            .on_conflict_do_nothing(index_elements=["token"])
            .returning(PushDevice.id)
        ).scalar_one_or_none()
        return None if device_id is None else self.session.get(PushDevice, device_id)

    def devices(self, user_id: int) -> list[PushDevice]:
        stmt = (
            select(PushDevice)
            .where(PushDevice.user_id == user_id)
            .order_by(PushDevice.last_seen_at.desc(), PushDevice.id.desc())
        )
        return list(self.session.scalars(stmt))

    def device_of(self, user_id: int, device_id: int) -> PushDevice | None:
        return self.session.scalars(
            select(PushDevice).where(PushDevice.id == device_id, PushDevice.user_id == user_id)
        ).one_or_none()

    def delete_devices(self, device_ids: Sequence[int], now: datetime, reason: str) -> int:
        """Delete devices; their deliveries still pending are SKIPPED with `reason`."""
        if not device_ids:
            return 0
        self.skip_pending_of_devices(device_ids, now, reason)
        result = self.session.execute(
            delete(PushDevice)
            .where(PushDevice.id.in_(device_ids))
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def devices_beyond(self, user_id: int, keep: int) -> list[int]:
        """Ids of the player's devices after the `keep` most recently seen."""
        stmt = (
            select(PushDevice.id)
            .where(PushDevice.user_id == user_id)
            .order_by(PushDevice.last_seen_at.desc(), PushDevice.id.desc())
            .offset(keep)
        )
        return list(self.session.scalars(stmt))

    # --- preferences --------------------------------------------------------------------
    def preferences(self, user_id: int) -> PushPreferences | None:
        return self.session.get(PushPreferences, user_id)

    def save_preferences(
        self, user_id: int, *, muted: list[str], quiet: tuple[time, time] | None, now: datetime
    ) -> PushPreferences:
        start, end = quiet if quiet is not None else (None, None)
        values = {"muted_categories": muted, "quiet_start": start, "quiet_end": end, "updated_at": now}
        self.session.execute(
            insert(PushPreferences)
            .values(user_id=user_id, **values)
            .on_conflict_do_update(index_elements=["user_id"], set_=values)
        )
        found = self.session.get(PushPreferences, user_id, populate_existing=True)
        assert found is not None
        return found

    # --- deliveries: the claim transaction ----------------------------------------------
    def claim(self, now: datetime, limit: int) -> list[DueDelivery]:
        rows = self.session.execute(_CLAIM, {"now": now, "limit": limit}).mappings().all()
        return [
            DueDelivery(
                notification_id=int(r["notification_id"]),
                device_id=int(r["device_id"]),
                attempts=int(r["attempts"]),
                user_id=int(r["user_id"]),
                category=str(r["category"]),
                title=str(r["title"]),
                body=str(r["body"]),
                data=dict(r["data"] or {}),
                notified_at=r["notified_at"],
                device_user_id=None if r["device_user_id"] is None else int(r["device_user_id"]),
                token=r["token"],
                user_active=bool(r["user_active"]),
                has_preferences=bool(r["has_preferences"]),
                muted_categories=tuple(r["muted_categories"] or ()),
                quiet_start=r["quiet_start"],
                quiet_end=r["quiet_end"],
            )
            for r in rows
        ]

    def lease(
        self, keys: Sequence[tuple[int, int]], lease_token: uuid.UUID, until: datetime, now: datetime
    ) -> None:
        """Claimed rows about to be sent: leased to this pass, one more attempt counted."""
        self._update_each(
            keys,
            "attempts = attempts + 1, lease_token = :lease, lease_until = :until, updated_at = :now",
            {"lease": lease_token, "until": until, "now": now},
        )

    def defer(self, keys: Sequence[tuple[int, int]], until: datetime, now: datetime) -> None:
        """Claimed rows not to be sent before `until` (quiet hours)."""
        self._update_each(keys, "next_attempt_at = :until, updated_at = :now", {"until": until, "now": now})

    def close(self, keys: Sequence[tuple[int, int]], status: str, reason: str, now: datetime) -> None:
        """Claimed rows finished without a send (SKIPPED, EXPIRED)."""
        self._update_each(
            keys,
            "status = :status, last_error = :reason, lease_token = NULL, lease_until = NULL, "
            "updated_at = :now",
            {"status": status, "reason": reason[:500], "now": now},
        )

    def _update_each(self, keys: Sequence[tuple[int, int]], assignments: str, params: dict[str, Any]) -> None:
        if not keys:
            return
        self.session.execute(
            text(
                f"UPDATE crypto.push_deliveries SET {assignments} "  # noqa: S608 - constant SQL
                "WHERE notification_id = :n AND device_id = :d"
            ),
            [{**params, "n": n, "d": d} for n, d in keys],
        )

    # --- deliveries: after the send (a unit of work of its own) -------------------------
    def record(
        self,
        key: tuple[int, int],
        lease_token: uuid.UUID,
        *,
        status: str,
        now: datetime,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        """The outcome of a send under our lease; False if the lease was lost (the row was
        skipped meanwhile, e.g. its device deleted) — nothing is changed then."""
        values: dict[str, Any] = {
            "status": status,
            "last_error": None if error is None else error[:500],
            "lease_token": None,
            "lease_until": None,
            "updated_at": now,
        }
        if status == "SENT":
            values["sent_at"] = now
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        result = self.session.execute(
            update(PushDelivery)
            .where(
                PushDelivery.notification_id == key[0],
                PushDelivery.device_id == key[1],
                PushDelivery.status == "PENDING",
                PushDelivery.lease_token == lease_token,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    def release(self, keys: Sequence[tuple[int, int]], lease_token: uuid.UUID, now: datetime) -> None:
        """Leased rows this pass will not send after all: claimable again at once, the
        attempt not counted."""
        if not keys:
            return
        self.session.execute(
            text(
                "UPDATE crypto.push_deliveries SET attempts = attempts - 1, lease_token = NULL, "
                "lease_until = NULL, updated_at = :now "
                "WHERE notification_id = :n AND device_id = :d AND lease_token = :lease "
                "AND status = 'PENDING'"
            ),
            [{"n": n, "d": d, "lease": lease_token, "now": now} for n, d in keys],
        )

    def delete_device_with_token(self, device_id: int, token: str, now: datetime, reason: str) -> int:
        """Delete the device if it still has `token` (an invalid token pruned)."""
        found = self.session.scalars(
            select(PushDevice.id)
            .where(PushDevice.id == device_id, PushDevice.token == token)
            .with_for_update()
        ).one_or_none()
        return 0 if found is None else self.delete_devices([found], now, reason)

    def skip_pending_of_devices(self, device_ids: Sequence[int], now: datetime, reason: str) -> int:
        result = self.session.execute(
            update(PushDelivery)
            .where(PushDelivery.device_id.in_(device_ids), PushDelivery.status == "PENDING")
            .values(
                status="SKIPPED", last_error=reason[:500], lease_token=None, lease_until=None, updated_at=now
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # --- deliveries: reading and housekeeping -------------------------------------------
    def due_exists(self, now: datetime) -> bool:
        """Is any delivery due and not leased (served by ix_push_deliveries_due)?"""
        return bool(
            self.session.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM crypto.push_deliveries WHERE status = 'PENDING' "
                    "AND next_attempt_at <= :now AND (lease_until IS NULL OR lease_until <= :now))"
                ),
                {"now": now},
            ).scalar_one()
        )

    def purge_finished(self, before: datetime, limit: int) -> int:
        """Delete at most `limit` finished deliveries made before `before`."""
        result = self.session.execute(
            text(
                """
                DELETE FROM crypto.push_deliveries WHERE (notification_id, device_id) IN (
                    SELECT notification_id, device_id FROM crypto.push_deliveries
                    WHERE created_at < :before AND status <> 'PENDING'
                    ORDER BY created_at LIMIT :limit FOR UPDATE SKIP LOCKED)
                """
            ),
            {"before": before, "limit": limit},
        )
        return int(getattr(result, "rowcount", 0) or 0)
