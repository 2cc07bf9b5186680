from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from myapi.core.schemas import KstDateTime


class AuditEntryOut(BaseModel):
    """One audit row: a write request (`status` set) or a service's record of a change."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: KstDateTime
    actor: str
    actor_user_id: int | None
    action: str
    target: str | None
    payload: dict[str, Any]
    request_id: str | None
    status: int | None
