"""/v1/devices (my push devices) and /v1/notifications/preferences (my push
preferences). Every route reads or changes only the caller's own (another player's
device id is PUSH_404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from myapi.auth.guards import CurrentUserDep
from myapi.core.schemas import Envelope, ErrorEnvelope, ok
from myapi.deps import PushServiceDep
from myapi.push.schemas import DeletedOut, DeviceIn, DeviceOut, PreferencesIn, PreferencesOut
from myapi.ratelimit.deps import rate_limit

router = APIRouter(prefix="/v1/devices", tags=["push"], dependencies=[Depends(rate_limit)])
# Its own prefix under /v1/notifications: main.py includes it before the inbox router,
# so "/preferences" can never be taken for a notification id.
preferences_router = APIRouter(
    prefix="/v1/notifications/preferences", tags=["push"], dependencies=[Depends(rate_limit)]
)
DeviceId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post(
    "",
    status_code=201,
    responses={
        409: {"model": ErrorEnvelope, "description": "PUSH_409 the token is being registered concurrently"}
    },
    summary="Register this device's push token (idempotent; a token of another account moves to me)",
)
def register_device(body: DeviceIn, user: CurrentUserDep, service: PushServiceDep) -> Envelope[DeviceOut]:
    """Registers this device's push token (201). The same token again is the same device (its platform
    and last-seen time are updated); a token another account registered moves to me as a new device.
    Beyond the per-player limit, my least recently seen device is forgotten."""
    return ok(DeviceOut.model_validate(service.register(user.id, body.token, body.platform)))


@router.get("", summary="My push devices, most recently seen first")
def my_devices(user: CurrentUserDep, service: PushServiceDep) -> Envelope[list[DeviceOut]]:
    """My registered push devices, most recently seen first (with their tokens)."""
    return ok([DeviceOut.model_validate(d) for d in service.devices(user.id)])


@router.delete(
    "/{device_id}",
    responses={404: {"model": ErrorEnvelope, "description": "PUSH_404 no such device of mine"}},
    summary="Forget one of my devices (no more pushes to it)",
)
def delete_device(device_id: DeviceId, user: CurrentUserDep, service: PushServiceDep) -> Envelope[DeletedOut]:
    """Forgets one of my devices: nothing more is pushed to it. Another player's or an unknown id is
    `PUSH_404`."""
    service.remove(user.id, device_id)
    return ok(DeletedOut(id=device_id, deleted=True))


@preferences_router.get("", summary="My push preferences (categories pushed, quiet hours in KST)")
def my_preferences(user: CurrentUserDep, service: PushServiceDep) -> Envelope[PreferencesOut]:
    """My push preferences: which categories are pushed and the quiet hours (KST) during which pushes
    wait; the defaults until I change them."""
    return ok(PreferencesOut.of(service.preferences(user.id)))


@preferences_router.put(
    "",
    summary="Replace my push preferences (opting out stops pushes only; the inbox still gets everything)",
)
def set_preferences(
    body: PreferencesIn, user: CurrentUserDep, service: PushServiceDep
) -> Envelope[PreferencesOut]:
    """Replaces my push preferences as a whole: the categories pushed (one left out is on) and the
    quiet hours (KST, `null` for none). They apply to pushes only: the inbox still gets every
    notification."""
    quiet = body.quiet_hours.to_quiet_hours() if body.quiet_hours is not None else None
    return ok(PreferencesOut.of(service.set_preferences(user.id, body.categories, quiet)))
