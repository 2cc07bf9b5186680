"""/v1/users/me: the player's own profile (a player can only ever change their own row);
/v1/users/{nickname}: another player's public profile (nickname, join date, record)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from myapi.auth.guards import CurrentUserDep
from myapi.core.schemas import Envelope, ok
from myapi.deps import AuthServiceDep, PredictionServiceDep, UserServiceDep
from myapi.ratelimit.deps import rate_limit
from myapi.users.schemas import (
    NICKNAME_PATTERN,
    DeletedOut,
    MeOut,
    NicknameUpdate,
    PublicProfileOut,
    profile_out,
)

router = APIRouter(prefix="/v1/users", tags=["users"], dependencies=[Depends(rate_limit)])


@router.get("/me", summary="My profile with my points balance")
def get_me(user: CurrentUserDep, service: UserServiceDep) -> Envelope[MeOut]:
    """My profile: id, email, nickname, role, sign-in provider, join and last sign-in times, and my
    points balance."""
    return ok(profile_out(service.profile(user.id)))


@router.patch("/me", summary="Change my nickname (unique)")
def patch_me(body: NicknameUpdate, user: CurrentUserDep, service: UserServiceDep) -> Envelope[MeOut]:
    """Changes my nickname. Nicknames are unique (`USER_001` when taken) and follow the nickname
    pattern; the answer is my updated profile."""
    return ok(profile_out(service.change_nickname(user.id, body.nickname)))


@router.get(
    "/me/export",
    summary="A copy of all my data: profile, predictions, ledger, holds, ad unlocks, redemptions "
    "(with their codes), notifications, devices (without push tokens), push preferences",
)
def export_me(user: CurrentUserDep, service: UserServiceDep) -> Envelope[dict[str, Any]]:
    """A copy of all my data as JSON (data portability): my profile, predictions, points ledger, holds,
    ad unlocks, redemptions with their codes, notifications, devices without their push tokens and
    my push preferences. Nothing internal and nothing of another player."""
    return ok(service.export(user.id))


@router.delete(
    "/me",
    summary="Delete my account: deactivated at once (every token stops working); signing in again "
    "before `anonymise_at` (the grace period) reactivates it, after it my personal data is erased",
)
def delete_me(user: CurrentUserDep, auth: AuthServiceDep, users: UserServiceDep) -> Envelope[DeletedOut]:
    """Deletes my account: it is deactivated at once and every token stops working. Signing in again
    before `anonymise_at` (the grace period) reactivates it; after it, my personal data is erased."""
    deleted = auth.delete_account(user.id)
    return ok(DeletedOut(deactivated=True, anonymise_at=users.anonymise_at(deleted)))


@router.get(
    "/{nickname}",
    summary="A player's public profile: nickname, join date, totals, streaks, win rates, badges "
    "(no email, no provider ids; USER_404 for no active player)",
)
def public_profile(
    nickname: Annotated[str, Path(pattern=NICKNAME_PATTERN)],
    user: CurrentUserDep,
    users: UserServiceDep,
    predictions: PredictionServiceDep,
) -> Envelope[PublicProfileOut]:
    """Another player's public profile by nickname: nickname, join date and their record (totals,
    streaks, win rates, badges). No email and no provider ids; `USER_404` when no active player has
    that nickname."""
    player = users.public(nickname)
    return ok(
        PublicProfileOut(
            nickname=player.nickname, joined_at=player.created_at, stats=predictions.stats(player.id)
        )
    )
