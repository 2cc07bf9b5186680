from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from myapi.core.schemas import KstDateTime


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    category: str
    title: str
    body: str
    data: dict[str, Any]
    created_at: KstDateTime
    read_at: KstDateTime | None


class UnreadOut(BaseModel):
    unread: int


class MarkedOut(BaseModel):
    marked: int
