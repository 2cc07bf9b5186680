"""Push notifications (issue 12, part 2): a player's devices and push preferences, and
the rules a delivery follows (myapi/push/delivery.py sends them).

* Devices: `POST /v1/devices` registers a token for the caller. Tokens are globally
  unique: the same token again is the same device (its platform and last-seen updated);
  a token another account registered moves to the caller as a new device (the old
  owner's pushes still pending for it are skipped, never delivered to the new owner).
  A player keeps at most PUSH_MAX_DEVICES_PER_USER devices: one more forgets the least
  recently seen. A player sees and deletes only their own (anything else: PUSH_404).
* Preferences: per category on/off (push only: the in-app inbox always gets the
  notification) and quiet hours in KST (default PUSH_QUIET_START–PUSH_QUIET_END, a
  window may cross midnight; null: none). A push due inside the quiet hours waits for
  their end; it is not dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from myapi.core.clock import KST, Clock
from myapi.core.config import Settings
from myapi.core.errors import ConflictError, NotFoundError
from myapi.push.models import PushDevice, PushPreferences
from myapi.push.repository import PushRepository


class PushCategory(StrEnum):
    """Notification categories a player can mute for push (the inbox's categories)."""

    SETTLEMENT = "SETTLEMENT"
    REWARD = "REWARD"
    STREAK = "STREAK"
    CALENDAR = "CALENDAR"


class Platform(StrEnum):
    ANDROID = "ANDROID"
    IOS = "IOS"
    WEB = "WEB"


class PushDeviceNotFoundError(NotFoundError):
    code = "PUSH_404"
    message = "Device not found"


class PushRegistrationConflictError(ConflictError):
    code = "PUSH_409"
    message = "The token is being registered by another request; try again"


@dataclass(frozen=True)
class QuietHours:
    """A daily window [start, end) of KST wall-clock time; start > end crosses midnight."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("quiet hours start and end must differ")

    @classmethod
    def parse(cls, start: str, end: str) -> QuietHours | None:
        """From "HH:MM" strings; both empty: None (no quiet hours)."""
        if not start and not end:
            return None
        return cls(time.fromisoformat(start), time.fromisoformat(end))

    def _at(self, at: datetime) -> time:
        return at.astimezone(KST).time().replace(tzinfo=None)

    def contains(self, at: datetime) -> bool:
        t = self._at(at)
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def end_after(self, at: datetime) -> datetime:
        """When the window `at` is in ends (the next `end` in KST after `at`)."""
        local = at.astimezone(KST)
        end = datetime.combine(local.date(), self.end, tzinfo=KST)
        if end <= local:
            end += timedelta(days=1)
        return end

    def as_strings(self) -> tuple[str, str]:
        return self.start.strftime("%H:%M"), self.end.strftime("%H:%M")


@dataclass(frozen=True)
class PushPreferencesView:
    categories: dict[str, bool]  # every PushCategory, True = pushed
    quiet_hours: QuietHours | None
    customised: bool  # False: the defaults (nothing saved)


def default_quiet_hours(settings: Settings) -> QuietHours | None:
    return QuietHours.parse(settings.push_quiet_start, settings.push_quiet_end)


def effective_quiet_hours(
    settings: Settings, *, has_preferences: bool, start: time | None, end: time | None
) -> QuietHours | None:
    """A player's quiet hours: theirs once saved (None: none), else the defaults."""
    if not has_preferences:
        return default_quiet_hours(settings)
    return None if start is None or end is None else QuietHours(start, end)


class PushService:
    def __init__(self, session: Session, clock: Clock, settings: Settings) -> None:
        self._repo = PushRepository(session)
        self._session = session
        self._clock = clock
        self._settings = settings

    # --- devices ------------------------------------------------------------------------
    def register(self, user_id: int, token: str, platform: Platform) -> PushDevice:
        """Register `token` as a device of the player. Idempotent: the same token again
        is the same device (platform and last-seen updated). A token registered by
        another account moves to this one as a new device; the other account's pending
        pushes for it are skipped. Beyond PUSH_MAX_DEVICES_PER_USER devices the least
        recently seen are forgotten."""
        now = self._clock.now()
        for _ in range(3):
            existing = self._repo.device_by_token(token)
            if existing is not None and existing.user_id == user_id:
                existing.platform = platform.value
                existing.last_seen_at = now
                self._session.flush()
                return existing
            if existing is not None:
                self._repo.delete_devices([existing.id], now, "token moved to another account")
            device = self._repo.insert_device(user_id, token, platform.value, now)
            if device is not None:
                evicted = self._repo.devices_beyond(user_id, self._settings.push_max_devices_per_user)
                self._repo.delete_devices(evicted, now, "device evicted (too many devices)")
                return device
            # Registered by a concurrent request meanwhile: look again (its commit is visible).
        raise PushRegistrationConflictError()

    def devices(self, user_id: int) -> list[PushDevice]:
        """My devices, most recently seen first."""
        return self._repo.devices(user_id)

    def remove(self, user_id: int, device_id: int) -> None:
        """Delete one of my devices (its pending pushes are skipped); another player's or
        an unknown id is PUSH_404."""
        if self._repo.device_of(user_id, device_id) is None:
            raise PushDeviceNotFoundError(details={"device_id": device_id})
        self._repo.delete_devices([device_id], self._clock.now(), "device deleted by the player")

    # --- preferences --------------------------------------------------------------------
    def preferences(self, user_id: int) -> PushPreferencesView:
        return self._view(self._repo.preferences(user_id))

    def set_preferences(
        self, user_id: int, categories: Mapping[PushCategory, bool], quiet_hours: QuietHours | None
    ) -> PushPreferencesView:
        """Replace my push preferences: a category absent from `categories` is on;
        `quiet_hours` None means no quiet hours (not the defaults)."""
        muted = sorted(c.value for c, on in categories.items() if not on)
        quiet = None if quiet_hours is None else (quiet_hours.start, quiet_hours.end)
        saved = self._repo.save_preferences(user_id, muted=muted, quiet=quiet, now=self._clock.now())
        return self._view(saved)

    def _view(self, saved: PushPreferences | None) -> PushPreferencesView:
        muted = set(saved.muted_categories) if saved is not None else set()
        quiet = effective_quiet_hours(
            self._settings,
            has_preferences=saved is not None,
            start=saved.quiet_start if saved is not None else None,
            end=saved.quiet_end if saved is not None else None,
        )
        return PushPreferencesView(
            categories={c.value: c.value not in muted for c in PushCategory},
            quiet_hours=quiet,
            customised=saved is not None,
        )
