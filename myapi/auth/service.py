"""Login (OAuth authorization code + PKCE, dev login), token refresh with rotation and
reuse detection, logout. Every use case runs in the caller's unit of work."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from myapi.audit.repository import AuditRepository
from myapi.auth.models import OAuthState, RefreshToken
from myapi.auth.repository import AuthRepository
from myapi.auth.tokens import AccessTokenCodec, hash_refresh_token, new_refresh_token
from myapi.core.clock import Clock
from myapi.core.config import Settings
from myapi.core.enums import UserRole
from myapi.core.errors import AppError, ForbiddenError, NotFoundError, UnauthorizedError
from myapi.points.service import PointsLedger
from myapi.providers.oauth import (
    OAuthCodeRejected,
    OAuthIdentity,
    OAuthProvider,
    OAuthProviderUnavailable,
)
from myapi.users.models import User
from myapi.users.repository import UsersRepository

SIGNUP_REF_TYPE = "SIGNUP"
NICKNAME_ALLOWED = re.compile(r"[^0-9A-Za-z_가-힣]")
NICKNAME_BASE_MAX = 24  # leaves room for a `_N` suffix within 30 characters
NICKNAME_FALLBACK = "player"
INSERT_ATTEMPTS = 8


class OAuthCodeError(AppError):
    status_code = 400
    code = "OAUTH_001"
    message = "The authorization code was rejected"


class OAuthStateError(AppError):
    status_code = 400
    code = "OAUTH_002"
    message = "Invalid, expired or already used OAuth state"


class OAuthProviderError(AppError):
    status_code = 502
    code = "OAUTH_003"
    message = "The identity provider is unavailable; try again"


class RedirectNotAllowedError(AppError):
    status_code = 400
    code = "OAUTH_004"
    message = "redirect_uri is not on the allow-list"


class InvalidRefreshTokenError(UnauthorizedError):
    code = "AUTH_002"
    message = "Invalid, expired or revoked refresh token"


class RefreshTokenReusedError(InvalidRefreshTokenError):
    """A rotated token came back: its family is revoked, and that must stay committed."""

    commit_transaction = True


class AccountDeactivatedError(ForbiddenError):
    code = "AUTH_004"
    message = "This account is deactivated"


class AccountSuspendedError(ForbiddenError):
    code = "AUTH_005"
    message = "This account is suspended"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class SignupBonus:
    """What a first login earned. The bonus is paid once per verified email address:
    an account whose email already belongs to another account gets none."""

    points: int
    refused_because: str | None = None  # EMAIL_ALREADY_REGISTERED


@dataclass(frozen=True)
class LoginResult:
    user: User
    tokens: TokenPair
    is_new_user: bool
    points_balance: int
    signup_bonus: SignupBonus | None = None  # first login only
    reactivated: bool = False  # a deleted account signed in again within its grace period


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def nickname_base(raw: str | None) -> str:
    cleaned = NICKNAME_ALLOWED.sub("", (raw or "").strip().replace(" ", "_"))[:NICKNAME_BASE_MAX]
    return cleaned if len(cleaned) >= 2 else NICKNAME_FALLBACK


def _constraint_of(exc: IntegrityError) -> str:
    diag = getattr(exc.orig, "diag", None)
    return str(getattr(diag, "constraint_name", "") or "")


class AuthService:
    def __init__(
        self,
        session: Session,
        clock: Clock,
        settings: Settings,
        codec: AccessTokenCodec,
        providers: dict[str, OAuthProvider] | None = None,
    ) -> None:
        self._session = session
        self._clock = clock
        self._settings = settings
        self._codec = codec
        self._providers = providers or {}
        self._auth = AuthRepository(session)
        self._users = UsersRepository(session)

    # --- OAuth -------------------------------------------------------------------
    def start_authorization(self, provider: str, redirect_uri: str) -> str:
        """Create a single-use state (10 min) holding the PKCE verifier and the exact
        redirect_uri, and return the provider's authorization URL."""
        if redirect_uri not in self._settings.oauth_redirect_allowlist:
            raise RedirectNotAllowedError(details={"redirect_uri": redirect_uri})
        oauth = self._provider(provider)
        now = self._clock.now()
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 chars, within RFC 7636's 43..128
        self._auth.add_state(
            OAuthState(
                state=state,
                provider=provider,
                redirect_uri=redirect_uri,
                code_verifier=verifier,
                created_at=now,
                expires_at=now + timedelta(seconds=self._settings.oauth_state_ttl_s),
            )
        )
        return oauth.authorize_url(
            state=state, code_challenge=pkce_challenge(verifier), redirect_uri=redirect_uri
        )

    def complete_authorization(
        self, provider: str, code: str, state: str, redirect_uri: str | None
    ) -> LoginResult:
        """Consume the state, exchange the code with its PKCE verifier, and log the user
        in (creating them, with the signup bonus, on first login).

        The state row is locked and consumed in this transaction: concurrent callbacks
        with one state run one at a time and only the first succeeds. Any failure rolls
        everything back, so a provider error or timeout creates nothing. When
        `redirect_uri` is None (browser callback) the one stored with the state is used.
        """
        oauth = self._provider(provider)
        now = self._clock.now()
        row = self._auth.lock_state(state)
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise OAuthStateError()
        if row.provider != provider:
            raise OAuthStateError("The OAuth state belongs to another provider")
        if redirect_uri is not None and redirect_uri != row.redirect_uri:
            raise OAuthStateError("redirect_uri does not match the one the flow started with")
        self._auth.mark_state_used(state, now)
        try:
            identity = oauth.identify(
                code=code, code_verifier=row.code_verifier, redirect_uri=row.redirect_uri
            )
        except OAuthCodeRejected as exc:
            raise OAuthCodeError() from exc
        except OAuthProviderUnavailable as exc:
            raise OAuthProviderError() from exc
        return self._login(provider, identity, role=UserRole.USER)

    # --- dev login ---------------------------------------------------------------
    def dev_login(self, email: str, nickname: str | None, role: UserRole | None) -> LoginResult:
        """Outside production only (the route does not exist otherwise). `role`, when
        given, is applied to the account so ADMIN flows can be tried locally."""
        identity = OAuthIdentity(provider_id=email.lower(), email=email.lower(), nickname=nickname)
        return self._login("DEV", identity, role=role or UserRole.USER, force_role=role is not None)

    # --- tokens ------------------------------------------------------------------
    def refresh(self, refresh_token: str) -> tuple[User, TokenPair]:
        """Rotate: the presented token is retired and a new pair is issued in the same
        family. A token that was already rotated (or revoked) means it leaked: the whole
        family is revoked, and that revocation is committed even though the call fails;
        the family's access tokens die with it (the per-request check of claim `fam`),
        the account's other logins are untouched."""
        now = self._clock.now()
        row = self._auth.lock_refresh_by_hash(hash_refresh_token(refresh_token))
        if row is None:
            raise InvalidRefreshTokenError()
        if row.revoked_at is not None:
            self._auth.revoke_family(row.family_id, now)
            raise RefreshTokenReusedError(
                "Refresh token reuse detected; every session of this login was revoked"
            )
        if row.expires_at <= now:
            raise InvalidRefreshTokenError()
        user = self._users.get(row.user_id)
        if user is None or not user.is_active:
            raise InvalidRefreshTokenError()
        tokens, new_jti = self._issue_with_jti(user, family_id=row.family_id)
        self._auth.mark_rotated(row.jti, new_jti, now)
        return user, tokens

    def logout(self, user_id: int, refresh_token: str) -> int:
        """Revoke the family of the given refresh token (if it is the caller's): that
        login's refresh tokens and, through the per-request check of claim `fam`, its
        access tokens stop working at once; the account's other logins are untouched.
        Returns how many tokens were revoked; logging out twice is harmless."""
        row = self._auth.lock_refresh_by_hash(hash_refresh_token(refresh_token))
        if row is None or row.user_id != user_id:
            return 0
        return self._auth.revoke_family(row.family_id, self._clock.now())

    # --- internals ---------------------------------------------------------------
    def delete_account(self, user_id: int) -> User:
        """The player deletes their account: deactivated at once, every refresh token
        revoked and the token epoch bumped (access tokens stop working at once, and stay
        dead if the account is reactivated), and the deletion recorded, so that after
        the grace period (ACCOUNT_DELETION_GRACE_DAYS) a job anonymises it; signing in
        again before then reactivates it. Idempotent: a second call keeps the first
        request's time."""
        user = self._users.get_for_update(user_id)
        if user is None:
            raise NotFoundError("User not found", code="USER_404")
        now = self._clock.now()
        if user.is_active:
            user.is_active = False
            user.deactivated_at = now
            user.deletion_requested_at = now
            user.updated_at = now
            self._users.end_sessions(user)
            AuditRepository(self._session).record(
                actor=f"user:{user_id}", actor_user_id=user_id, action="user.delete_requested",
                target=f"user:{user_id}", payload={}, now=now,
            )  # fmt: skip
        self._auth.revoke_all_for_user(user_id, now)
        self._session.flush()
        return user

    def _reactivate_if_deleted(self, user: User, now: datetime) -> bool:
        """A player who deleted their account signs in again within the grace period:
        the account is theirs again (audited), with only the login being made: a refresh
        token still live from before the deletion (a refresh that raced it) is revoked.
        Past the grace period, or an account an operator deactivated, stays refused
        (AUTH_004); a suspended one never gets here (`_login` refuses it first, AUTH_005)."""
        requested = user.deletion_requested_at
        grace = timedelta(days=self._settings.account_deletion_grace_days)
        if requested is None or user.anonymised_at is not None or now >= requested + grace:
            return False
        user.is_active = True
        user.deactivated_at = None
        user.deletion_requested_at = None
        user.updated_at = now
        self._auth.revoke_all_for_user(user.id, now)
        AuditRepository(self._session).record(
            actor=f"user:{user.id}", actor_user_id=user.id, action="user.reactivated",
            target=f"user:{user.id}", payload={"deletion_requested_at": requested.isoformat()}, now=now,
        )  # fmt: skip
        return True

    def _provider(self, provider: str) -> OAuthProvider:
        oauth = self._providers.get(provider)
        if oauth is None:
            raise OAuthStateError(f"Unknown OAuth provider {provider!r}")
        return oauth

    def _login(
        self, provider: str, identity: OAuthIdentity, role: UserRole, force_role: bool = False
    ) -> LoginResult:
        now = self._clock.now()
        user = self._users.find_by_identity(provider, identity.provider_id)
        is_new = False
        bonus: SignupBonus | None = None
        if user is None:
            user_id, is_new, email_taken = self._create_user(provider, identity, role, now)
            user = self._users.get_for_update(user_id)
            assert user is not None
            if is_new:
                bonus = self._signup_bonus(user.id, email_taken)
        reactivated = False
        if not user.is_active:
            if user.suspended_at is not None:  # an operator's suspension: signing in never lifts it
                raise AccountSuspendedError()
            reactivated = self._reactivate_if_deleted(user, now)
            if not reactivated:
                raise AccountDeactivatedError()
        if force_role and user.role != role:
            if user.role == UserRole.ADMIN:  # a demotion ends the account's other sessions
                self._users.end_sessions(user)
            user.role = role
        self._users.touch_login(user.id, now)
        self._session.flush()
        tokens = self._issue(user, family_id=uuid.uuid4())
        balance = PointsLedger(self._session, self._clock).balance(user.id)
        return LoginResult(
            user=user, tokens=tokens, is_new_user=is_new, points_balance=balance, signup_bonus=bonus,
            reactivated=reactivated,
        )  # fmt: skip

    def _signup_bonus(self, user_id: int, email_taken: bool) -> SignupBonus:
        """The signup bonus, once per verified email address across providers: a new
        account whose (verified) email already belongs to another account gets none.
        Idempotent by ref SIGNUP:{user_id}: a retried or concurrent first login credits
        it once."""
        if email_taken:
            return SignupBonus(0, refused_because="EMAIL_ALREADY_REGISTERED")
        points = self._settings.signup_bonus_points
        if points > 0:
            PointsLedger(self._session, self._clock).apply(
                user_id=user_id, delta=points, reason="signup_bonus",
                ref_type=SIGNUP_REF_TYPE, ref_id=str(user_id),
            )  # fmt: skip
        return SignupBonus(points)

    def _create_user(
        self, provider: str, identity: OAuthIdentity, role: UserRole, now: datetime
    ) -> tuple[int, bool, bool]:
        """Insert the user with the first free nickname (`name`, `name_2`, ...). Races on
        the nickname are retried; an email already used by another account is not linked
        (the new account is created without it). Returns (user id, created, whether the
        identity's email belonged to another account)."""
        base = nickname_base(identity.nickname or (identity.email or "").split("@")[0])
        email = identity.email
        email_taken = False
        if email and self._users.find_by_email(email) is not None:
            email, email_taken = None, True
        for _ in range(INSERT_ATTEMPTS):
            taken = self._users.nicknames_like(base)
            nickname = base
            suffix = 2
            while nickname in taken:
                nickname = f"{base}_{suffix}"
                suffix += 1
            savepoint = self._session.begin_nested()
            try:
                user_id = self._users.insert_if_absent(
                    provider=provider,
                    provider_id=identity.provider_id,
                    email=email,
                    nickname=nickname,
                    role=role,
                    now=now,
                )
                savepoint.commit()
            except IntegrityError as exc:
                savepoint.rollback()
                if "email" in _constraint_of(exc):
                    email, email_taken = None, True
                continue
            if user_id is not None:
                return user_id, True, email_taken
            # Someone created this identity concurrently: log in as that user.
            existing = self._users.find_by_identity(provider, identity.provider_id)
            if existing is not None:
                return existing.id, False, email_taken
        raise RuntimeError("could not allocate a unique nickname")

    def _issue(self, user: User, family_id: uuid.UUID) -> TokenPair:
        return self._issue_with_jti(user, family_id)[0]

    def _issue_with_jti(self, user: User, family_id: uuid.UUID) -> tuple[TokenPair, uuid.UUID]:
        """A token pair of `family_id` (the login): the access token carries the
        account's current token epoch and the family (docs/auth.md, revocation)."""
        now = self._clock.now()
        access = self._codec.issue(user.id, user.role, now, epoch=user.token_epoch, family_id=family_id)
        refresh = new_refresh_token()
        jti = uuid.uuid4()
        self._auth.add_refresh_token(
            RefreshToken(
                jti=jti,
                user_id=user.id,
                family_id=family_id,
                token_hash=hash_refresh_token(refresh),
                issued_at=now,
                expires_at=now + timedelta(seconds=self._settings.refresh_token_ttl_s),
            )
        )
        return TokenPair(access.token, refresh, access.expires_in), jti
