from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from myapi.core.schemas import KstDateTime
from myapi.push.service import Platform, PushCategory, PushPreferencesView, QuietHours

HHMM = r"^(?:[01]\d|2[0-3]):[0-5]\d$"
# A device token as FCM hands it out: printable ASCII, no spaces.
TOKEN_PATTERN = r"^[\x21-\x7e]+$"


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(
        min_length=8, max_length=1024, pattern=TOKEN_PATTERN, description="the FCM registration token"
    )
    platform: Platform


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    token: str
    platform: Platform
    created_at: KstDateTime
    last_seen_at: KstDateTime


class DeletedOut(BaseModel):
    id: int
    deleted: bool


class QuietHoursIO(BaseModel):
    """A daily window in KST (Asia/Seoul); start after end crosses midnight."""

    model_config = ConfigDict(extra="forbid")

    start: Annotated[str, Field(pattern=HHMM, examples=["22:00"])]
    end: Annotated[str, Field(pattern=HHMM, examples=["08:00"])]

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHoursIO:
        if self.start == self.end:
            raise ValueError("quiet hours start and end must differ")
        return self

    def to_quiet_hours(self) -> QuietHours:
        parsed = QuietHours.parse(self.start, self.end)
        assert parsed is not None
        return parsed


class PreferencesIn(BaseModel):
    """The whole of my push preferences (a category left out is on)."""

    model_config = ConfigDict(extra="forbid")

    categories: dict[PushCategory, StrictBool] = Field(
        description="category -> pushed; applies to push only, the inbox always gets the notification"
    )
    quiet_hours: QuietHoursIO | None = Field(description="KST window without pushes; null: none")


class PreferencesOut(BaseModel):
    categories: dict[str, bool]
    quiet_hours: QuietHoursIO | None
    timezone: str = "Asia/Seoul"
    customised: bool = Field(description="false: the defaults (nothing saved yet)")

    @classmethod
    def of(cls, view: PushPreferencesView) -> PreferencesOut:
        quiet = None
        if view.quiet_hours is not None:
            start, end = view.quiet_hours.as_strings()
            quiet = QuietHoursIO(start=start, end=end)
        return cls(categories=view.categories, quiet_hours=quiet, customised=view.customised)
