"""/v1/notifications: my inbox. Every route reads or changes only the caller's
notifications (another player's id is NOTIF_404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from myapi.auth.guards import CurrentUserDep
from myapi.core.schemas import Envelope, ErrorEnvelope, ok
from myapi.deps import NotificationServiceDep
from myapi.notifications.schemas import MarkedOut, NotificationOut, UnreadOut
from myapi.notifications.service import CURSOR_PATTERN
from myapi.ratelimit.deps import rate_limit

router = APIRouter(prefix="/v1/notifications", tags=["notifications"], dependencies=[Depends(rate_limit)])
NotificationId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("", summary="My notifications, newest first (cursor paging: meta.next_cursor; meta.unread)")
def inbox(
    user: CurrentUserDep,
    service: NotificationServiceDep,
    cursor: Annotated[
        str | None, Query(pattern=CURSOR_PATTERN, description="meta.next_cursor of the page before (opaque)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    unread_only: bool = False,
) -> Envelope[list[NotificationOut]]:
    """My notifications, newest first: settlement results, streaks, calendar notices and reward
    outcomes. Cursor paging: pass `meta.next_cursor` as `cursor` for the next page (null on the
    last); `meta.unread` counts the unread ones."""
    page = service.inbox(user.id, cursor=cursor, limit=limit, unread_only=unread_only)
    items = [NotificationOut.model_validate(n) for n in page.items]
    return ok(items, next_cursor=page.next_cursor, unread=page.unread, limit=limit)


@router.get("/unread-count", summary="How many of my notifications are unread")
def unread_count(user: CurrentUserDep, service: NotificationServiceDep) -> Envelope[UnreadOut]:
    """How many of my notifications are unread (for a badge)."""
    return ok(UnreadOut(unread=service.unread_count(user.id)))


@router.post(
    "/{notification_id}/read",
    responses={404: {"model": ErrorEnvelope, "description": "NOTIF_404 no such notification of mine"}},
    summary="Mark one of my notifications read (idempotent)",
)
def mark_read(
    notification_id: NotificationId, user: CurrentUserDep, service: NotificationServiceDep
) -> Envelope[NotificationOut]:
    """Marks one of my notifications read and answers it; marking it again changes nothing. Another
    player's notification is `NOTIF_404`."""
    return ok(NotificationOut.model_validate(service.mark_read(user.id, notification_id)))


@router.post("/read-all", summary="Mark all my notifications read")
def mark_all_read(user: CurrentUserDep, service: NotificationServiceDep) -> Envelope[MarkedOut]:
    """Marks all my unread notifications read and answers how many were."""
    return ok(MarkedOut(marked=service.mark_all_read(user.id)))
