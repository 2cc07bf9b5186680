"""Application settings: one `Settings` object read from the environment (and `.env`).

Every variable is documented in `.env.example`. In production the settings refuse
to load when a development-only value is still in place (see `check_production`).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["development", "test", "production"]
EodProviderName = Literal["sandbox", "yfinance"]
PushProviderName = Literal["fcm", "log", "none"]
# HH:MM (24 h), or empty (no default quiet hours when both ends are empty).
QUIET_TIME_PATTERN = r"^(?:(?:[01]\d|2[0-3]):[0-5]\d)?$"

# Development defaults for secrets. They make the embedded setup work with no
# configuration, and production refuses every one of them.
DEV_SECRETS: dict[str, str] = {
    "internal_token": "dev-internal-token-change-me",
    "ad_callback_secret": "dev-ad-callback-secret-change-me",
    "vendor_webhook_secret": "dev-vendor-webhook-secret-change-me",
}
MIN_PRODUCTION_SECRET_LENGTH = 32


class ConfigurationError(RuntimeError):
    """Raised at start-up when the configuration is unsafe or inconsistent."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    # --- application -------------------------------------------------------
    environment: Environment = "development"
    app_name: str = "OX Universe"
    log_level: str = "INFO"
    log_json: bool = True
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000", "http://127.0.0.1:3000"]
    )

    # --- database ----------------------------------------------------------
    database_url: str = "postgresql+psycopg2://postgres@127.0.0.1:5432/oxuniverse"
    # Threads for sync routes/dependencies per API process (anyio's default is 40).
    api_thread_pool_size: int = Field(default=40, ge=1, le=400)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=20, ge=0, le=200)
    db_pool_timeout_s: float = Field(default=10.0, gt=0)
    # The rate limiter's own pool (one short autocommit statement per request).
    db_rate_limit_pool_size: int = Field(default=5, ge=1, le=100)
    # A pooled connection idle this long is pinged before use (dead ones are replaced).
    db_ping_idle_s: float = Field(default=10.0, ge=0)
    db_statement_timeout_ms: int = Field(default=15_000, ge=0)
    # A session of ours idle inside a transaction longer than this is ended by the server
    # (a crashed process can never hold row locks for long); 0 disables it.
    db_idle_in_transaction_timeout_ms: int = Field(default=60_000, ge=0)

    # --- queues (SQS) ------------------------------------------------------
    sqs_endpoint_url: str | None = None
    aws_region: str = "ap-northeast-2"
    queue_prefix: str = ""
    queue_eod_fetch: str = "q-eod-fetch"
    queue_settlement_compute: str = "q-settlement-compute"
    queue_rewards_saga: str = "q-rewards-saga"
    sqs_max_receive_count: int = Field(default=5, ge=1, le=1000)
    sqs_visibility_timeout_s: int = Field(default=60, ge=0, le=43_200)
    sqs_wait_time_s: int = Field(default=20, ge=0, le=20)
    sqs_message_retention_s: int = Field(default=345_600, ge=60, le=1_209_600)
    sqs_connect_timeout_s: float = Field(default=2.0, gt=0)

    # --- secrets -----------------------------------------------------------
    internal_token: str = DEV_SECRETS["internal_token"]
    ad_callback_secret: str = DEV_SECRETS["ad_callback_secret"]
    vendor_webhook_secret: str = DEV_SECRETS["vendor_webhook_secret"]

    # --- tokens (SPEC §4) ----------------------------------------------------
    # JSON object {kid: PEM private key}; the key named by JWT_SIGNING_KID signs, the
    # others still verify (rotation). Empty outside production: a dev key pair is
    # generated into .local/jwt/.
    jwt_private_keys: str = ""
    jwt_signing_kid: str = ""
    # JSON object {kid: PEM public key} of retired keys whose tokens are still accepted.
    jwt_public_keys: str = ""
    jwt_issuer: str = "https://api.oxuniverse.example"
    jwt_audience: str = "oxuniverse-clients"
    access_token_ttl_s: int = Field(default=3600, ge=60, le=86_400)
    refresh_token_ttl_s: int = Field(default=604_800, ge=3600, le=7_776_000)

    # --- OAuth providers (SPEC §4) -------------------------------------------
    # Exact redirect URIs a client may use (comma-separated); anything else is refused.
    oauth_redirect_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "http://localhost:3000/auth/callback",
            "http://127.0.0.1:8000/v1/auth/oauth/google/callback",
            "http://127.0.0.1:8000/v1/auth/oauth/kakao/callback",
        ]
    )
    oauth_state_ttl_s: int = Field(default=600, ge=60, le=3600)
    oauth_http_timeout_s: float = Field(default=5.0, gt=0, le=60)
    google_client_id: str = ""
    google_client_secret: str = ""
    google_authorize_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    google_userinfo_url: str = "https://openidconnect.googleapis.com/v1/userinfo"
    kakao_client_id: str = ""
    kakao_client_secret: str = ""
    kakao_authorize_url: str = "https://kauth.kakao.com/oauth/authorize"
    kakao_token_url: str = "https://kauth.kakao.com/oauth/token"
    kakao_userinfo_url: str = "https://kapi.kakao.com/v2/user/me"

    # --- development helpers (refused in production) -------------------------
    dev_login_enabled: bool = True
    eod_provider: EodProviderName = "sandbox"
    # The offline gift-code vendor named "sandbox" (worthless, derivable codes).
    reward_sandbox_enabled: bool = True
    # A shifted (or accelerated) clock shared by every process: simulated time is
    # CLOCK_START_AT when the real clock reads CLOCK_ANCHOR_AT (default: when the
    # settings load), running at CLOCK_SPEED. Unset: the system clock.
    clock_start_at: datetime | None = None
    clock_anchor_at: datetime | None = None
    clock_speed: float = Field(default=1.0, gt=0, le=100_000)

    # --- game rules (SPEC §2, §5) ------------------------------------------
    predict_cutoff_margin_min: int = Field(default=5, ge=0, le=120)
    eod_fetch_delay_min: int = Field(default=15, ge=0, le=600)
    universe_max_size: int = Field(default=100, ge=1, le=1000)
    base_prediction_slots: int = Field(default=3, ge=1, le=100)
    max_ad_slots: int = Field(default=7, ge=0, le=100)
    cooldown_minutes: int = Field(default=5, ge=1, le=1440)
    points_win_reward: int = Field(default=50, ge=0)
    signup_bonus_points: int = Field(default=1000, ge=0)
    # Redemptions per player per KST calendar month (REQUESTED..ISSUED count); 0: no cap.
    reward_monthly_cap: int = Field(default=5, ge=0)
    # A redemption saga idle this long is resumed or compensated by the sweeper (the
    # cycle's reconcile tick), and its hold expires (an OPEN hold past it is an
    # integrity failure).
    reward_saga_timeout_s: int = Field(default=900, ge=10, le=86_400)
    # A vendor order answered PENDING (or unknown after a timeout) is asked again this often.
    reward_vendor_poll_s: int = Field(default=60, ge=1, le=3600)
    # Issue calls per redemption before a vendor that never accepts it is given up on.
    reward_vendor_max_attempts: int = Field(default=3, ge=1, le=20)
    # A player's deleted account can be reactivated by signing in for this long; then a
    # job erases its personal data (email, nickname, provider id, devices, inbox).
    account_deletion_grace_days: int = Field(default=30, ge=0, le=365)
    ad_receipt_max_age_s: int = Field(default=300, ge=10, le=3600)
    idempotency_ttl_s: int = Field(default=86_400, ge=60, le=604_800)

    # --- EOD providers -------------------------------------------------------
    # Alpha Vantage is the fallback after Yahoo (EOD_PROVIDER=yfinance) when a key is set.
    alphavantage_api_key: str = ""
    alphavantage_base_url: str = "https://www.alphavantage.co"
    eod_http_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Consecutive failures that open a provider's circuit breaker, and how long it stays open.
    eod_breaker_failures: int = Field(default=3, ge=1, le=100)
    eod_breaker_reset_s: int = Field(default=300, ge=1, le=86_400)

    # --- reward vendor over HTTP (myapi/providers/rewards/http.py); unset: none ---------
    reward_vendor_name: str = Field(default="giftvendor", min_length=1, max_length=64)
    reward_vendor_url: str = ""
    reward_vendor_api_key: str = ""
    reward_vendor_connect_timeout_s: float = Field(default=3.0, gt=0, le=60)
    reward_vendor_read_timeout_s: float = Field(default=10.0, gt=0, le=120)
    reward_vendor_retries: int = Field(default=3, ge=1, le=10)

    # --- push notifications (myapi/push, myapi/providers/push) -------------------
    # fcm: Firebase Cloud Messaging HTTP v1; log: written to the log (development only);
    # none: nothing is pushed (the in-app inbox still gets every notification).
    push_provider: PushProviderName = "log"
    # The default quiet hours (KST, HH:MM, the window may cross midnight) for players who
    # have not set their own; a push due inside them waits for their end. Both empty: none.
    push_quiet_start: str = Field(default="22:00", pattern=QUIET_TIME_PATTERN)
    push_quiet_end: str = Field(default="08:00", pattern=QUIET_TIME_PATTERN)
    # One delivery pass sends at most PUSH_BATCH_SIZE pushes, claimed PUSH_CLAIM_SIZE at a
    # time (each claim is leased for PUSH_CLAIM_SIZE sends' worst case).
    push_batch_size: int = Field(default=200, ge=1, le=10_000)
    push_claim_size: int = Field(default=20, ge=1, le=500)
    # Passes a push is tried on before it is given up (FAILED); between passes it waits
    # PUSH_RETRY_BASE_S * 2^(tries-1), at most PUSH_RETRY_MAX_S (or the Retry-After).
    push_max_attempts: int = Field(default=5, ge=1, le=50)
    push_retry_base_s: int = Field(default=30, ge=1, le=3600)
    push_retry_max_s: int = Field(default=3600, ge=1, le=86_400)
    # A notification not pushed this long after it was made is not pushed (EXPIRED): no
    # stale pushes after an outage. Longer than any quiet-hours window.
    push_max_age_h: int = Field(default=48, ge=24, le=336)
    # Devices a player may register; registering one more forgets the least recently seen.
    push_max_devices_per_user: int = Field(default=10, ge=1, le=100)
    # Finished deliveries (sent, skipped, failed...) are kept this long, then deleted.
    push_retention_days: int = Field(default=30, ge=1, le=365)
    # The service-account key file's JSON (the whole object), the FCM project (default:
    # the key's project_id) and the API's base URL.
    fcm_service_account_json: str = ""
    fcm_project_id: str = ""
    fcm_base_url: str = "https://fcm.googleapis.com"
    fcm_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # Tries per push within a pass (5xx / 429 / timeouts), waiting FCM_BACKOFF_BASE_S *
    # 2^(n-1) up to FCM_BACKOFF_MAX_S between them; a longer Retry-After waits for a later pass.
    fcm_max_attempts: int = Field(default=3, ge=1, le=10)
    fcm_backoff_base_s: float = Field(default=0.5, ge=0, le=60)
    fcm_backoff_max_s: float = Field(default=4.0, ge=0, le=60)

    # --- rate limiting (SPEC §8): requests per window, sliding -----------------
    rate_limit_enabled: bool = True
    rate_limit_window_s: int = Field(default=60, ge=1, le=3600)
    rate_limit_read: int = Field(default=300, ge=1)  # GET /v1, per player
    rate_limit_write: int = Field(default=120, ge=1)  # POST/PATCH/DELETE /v1, per player
    rate_limit_auth: int = Field(default=30, ge=1)  # /v1/auth/*, per IP
    rate_limit_ip: int = Field(default=1200, ge=1)  # all of /v1, per IP

    # --- nightly pipeline (SPEC §2, §7) ----------------------------------------
    # After the close + EOD_FETCH_DELAY_MIN, prices are fetched; symbols still without a
    # price EOD_VOID_DEADLINE_MIN after the close are settled VOID (a late price re-settles).
    # Statement timeout inside a day's settlement transaction (it updates every prediction).
    settlement_statement_timeout_ms: int = Field(default=300_000, ge=1000)
    # work_mem inside a day's settlement transaction only: its sorts and hashes over every
    # prediction of the day stay in memory (one settlement runs at a time per day).
    settlement_work_mem_mb: int = Field(default=256, ge=4, le=4096)
    eod_void_deadline_min: int = Field(default=180, ge=0, le=1440)
    # The cycle asks again for a fetch/settlement not done yet after this long.
    cycle_retry_interval_min: int = Field(default=15, ge=1, le=1440)
    # While a day accepts predictions, its baselines move to the latest prices this often.
    baseline_refresh_interval_min: int = Field(default=5, ge=1, le=1440)
    # Real seconds between the local scheduler's ticks (fractions for the demo clock).
    scheduler_tick_interval_s: float = Field(default=60, ge=0.05, le=3600)
    outbox_batch_size: int = Field(default=100, ge=1, le=10_000)
    outbox_max_backoff_s: int = Field(default=300, ge=1, le=86_400)
    outbox_poll_interval_s: float = Field(default=0.2, gt=0, le=60)
    worker_max_messages: int = Field(default=10, ge=1, le=10)

    # --- corporate actions (myapi/settlement: symbol-days held for review) -----------
    # A symbol-day whose close is further than this from a reference price
    # (|close / reference - 1|; references: the previous close, the vendor's and the stored
    # one, and the symbol's baseline) is held for an operator's decision instead of
    # settled. 0.4 holds a 2-for-1 split (-50 %) and a 1-for-2 reverse split (+100 %) for
    # sure; at 0.5 a 2-for-1 split would slip through whenever the stock rose a cent.
    # 0 turns this rule off (a split or dividend the provider reports still holds).
    corporate_action_max_move: Decimal = Field(default=Decimal("0.4"), ge=0, le=Decimal("0.95"))
    # A dividend the provider reports holds the symbol-day when it is at least this share
    # of the previous close (a special dividend; regular ones, ~0.2-2 %, settle as usual).
    # A reported split always holds it.
    corporate_action_dividend_min: Decimal = Field(
        default=Decimal("0.05"), ge=Decimal("0.001"), le=Decimal("1")
    )

    # --- operator alerts (myapi/alerts, myapi/providers/alerts) ------------------
    # A Slack or Discord webhook (https:// in production; it is a credential). Empty:
    # alerts are only logged (and still recorded, deduplicated and throttled).
    alert_webhook_url: str = ""
    # The same alert (kind + subject) is posted at most once per this many seconds; the
    # occurrences in between are counted into the next message ("+N more since HH:MM").
    alert_throttle_s: int = Field(default=900, ge=0, le=604_800)
    # The reconcile tick runs the alert check (DLQs, EOD past the deadline, integrity) at
    # most this often.
    alert_check_interval_s: int = Field(default=300, ge=10, le=86_400)
    # A dead-letter queue holding more messages than this is alerted (0: any message).
    alert_dlq_threshold: int = Field(default=0, ge=0, le=1_000_000)
    # Timeout of each webhook request (3 attempts at most, on 5xx / 429 / not sent).
    alert_http_timeout_s: float = Field(default=3.0, gt=0, le=30)

    # --- operators' dashboard (myapi/dashboard) ----------------------------------------
    # A day without a summary row (today; a settled day whose follow-up has not run) is
    # counted live from its own rows — about a second for a day of 1M predictions — and
    # the count is kept this many seconds per API process; 0 counts on every request.
    dashboard_live_ttl_s: float = Field(default=30.0, ge=0, le=3600)

    # --- maintenance mode (myapi/maintenance/middleware.py) ---------------------------
    # Each API process reads the operator's switch at most this often (seconds), so a
    # toggle reaches every instance within this time; 0 reads it on every player write.
    maintenance_cache_s: float = Field(default=2.0, ge=0, le=60)

    # --- operator tools (myapi/admin/ops_router.py) ------------------------------------
    # POST /admin/eod/backfill covers at most this many calendar days (one eod.fetch
    # message per trading day of the range).
    eod_backfill_max_days: int = Field(default=92, ge=1, le=366)

    # --- HTTP hardening (myapi/core/body_limit.py, myapi/core/security_headers.py) -----
    # The largest request body read (bytes), checked before anything parses it: a larger
    # Content-Length is refused at once (413 SYS_413), a chunked body is counted as it
    # arrives and reading stops at the limit. The largest JSON body of a player or admin
    # route is a few KiB (a universe of UNIVERSE_MAX_SIZE=1000 symbols: ~40 KiB).
    max_request_body_bytes: int = Field(default=65_536, ge=1024, le=16_777_216)
    # The vendor webhooks (/internal/vendor/...): an EOD event carries up to 5000 prices
    # (~100 bytes each), so they get a limit of their own.
    max_vendor_webhook_body_bytes: int = Field(default=1_048_576, ge=1024, le=67_108_864)
    # Strict-Transport-Security max-age, sent in production only (0: not sent).
    hsts_max_age_s: int = Field(default=31_536_000, ge=0, le=63_072_000)
    # /docs, /redoc and /openapi.json: unset = public outside production, off (404) in
    # production; true/false decides for any environment.
    api_docs_public: bool | None = None
    # Bearer token /metrics requires (`Authorization: Bearer <token>`). Empty: /metrics is
    # public (development only; production refuses to start without one).
    metrics_token: str = ""

    @field_validator("corporate_action_max_move")
    @classmethod
    def _max_move_off_or_sensible(cls, value: Decimal) -> Decimal:
        if value != 0 and value < Decimal("0.05"):
            raise ValueError("CORPORATE_ACTION_MAX_MOVE is 0 (off) or between 0.05 and 0.95")
        return value

    @field_validator("cors_origins", "oauth_redirect_allowlist", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        # Accept the libpq-style scheme that hosting providers hand out.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg2://" + value[len(prefix) :]
        return value

    @model_validator(mode="after")
    def _push_quiet_hours_pair(self) -> Settings:
        if bool(self.push_quiet_start) != bool(self.push_quiet_end):
            raise ValueError("PUSH_QUIET_START and PUSH_QUIET_END are set together (or both empty)")
        if self.push_quiet_start and self.push_quiet_start == self.push_quiet_end:
            raise ValueError("PUSH_QUIET_START and PUSH_QUIET_END must differ")
        return self

    @model_validator(mode="after")
    def _refuse_dev_settings_in_production(self) -> Settings:
        if self.environment == "production":
            problems = self.production_problems()
            if problems:
                raise ConfigurationError("Refusing to start in production: " + "; ".join(problems))
        return self

    def production_problems(self) -> list[str]:
        """Every development-only value still present, each naming its variable."""
        problems: list[str] = []
        for field_name, dev_value in DEV_SECRETS.items():
            value: str = getattr(self, field_name)
            env_name = field_name.upper()
            if value == dev_value:
                problems.append(f"{env_name} is the development default; set a real secret")
            elif len(value) < MIN_PRODUCTION_SECRET_LENGTH:
                problems.append(f"{env_name} is shorter than {MIN_PRODUCTION_SECRET_LENGTH} characters")
        if self.dev_login_enabled:
            problems.append("DEV_LOGIN_ENABLED must be false in production")
        if self.eod_provider == "sandbox":
            problems.append("EOD_PROVIDER=sandbox is for development only; use yfinance")
        if self.reward_sandbox_enabled:
            problems.append("REWARD_SANDBOX_ENABLED must be false in production (its codes are worthless)")
        if self.reward_vendor_url and not self.reward_vendor_url.startswith("https://"):
            problems.append("REWARD_VENDOR_URL must be https:// in production")
        if self.alert_webhook_url and not self.alert_webhook_url.startswith("https://"):
            problems.append("ALERT_WEBHOOK_URL must be https:// in production (the URL is a credential)")
        if not self.jwt_private_keys:
            problems.append("JWT_PRIVATE_KEYS is empty; production needs its own signing keys")
        if self.clock_start_at is not None or self.clock_speed != 1.0:
            problems.append("CLOCK_START_AT/CLOCK_SPEED are for tests and demos; production uses real time")
        problems.extend(self._push_problems())
        problems.extend(self._http_problems())
        return problems

    def _http_problems(self) -> list[str]:
        if not self.metrics_token:
            return ["METRICS_TOKEN is empty; production serves /metrics only with a bearer token"]
        if len(self.metrics_token) < MIN_PRODUCTION_SECRET_LENGTH:
            return [f"METRICS_TOKEN is shorter than {MIN_PRODUCTION_SECRET_LENGTH} characters"]
        if self.metrics_token == self.internal_token:
            return ["METRICS_TOKEN must differ from INTERNAL_TOKEN (a scraper must not run jobs)"]
        return []

    def _push_problems(self) -> list[str]:
        if self.push_provider == "log":
            return ["PUSH_PROVIDER=log is for development only; use fcm (or none)"]
        if self.push_provider != "fcm":
            return []
        problems = []
        if not self.fcm_base_url.startswith("https://"):
            problems.append("FCM_BASE_URL must be https:// in production")
        try:
            account = json.loads(self.fcm_service_account_json or "null")
        except ValueError:
            account = None
        if not isinstance(account, dict) or not str(account.get("token_uri", "")).startswith("https://"):
            problems.append("FCM_SERVICE_ACCOUNT_JSON must be a service account key with an https token_uri")
        return problems

    @property
    def reward_vendor_call_budget_s(self) -> float:
        """The longest one issue call to the HTTP vendor can take (every attempt timing
        out, with the back-off between, and a margin): the lease of a call in flight,
        before which no other process may give up on its order."""
        attempts = self.reward_vendor_retries
        per_attempt = self.reward_vendor_connect_timeout_s + self.reward_vendor_read_timeout_s
        return attempts * per_attempt + (attempts - 1) * 5.0 + 5.0

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def serves_api_docs(self) -> bool:
        """Whether /docs, /redoc and /openapi.json are served (API_DOCS_PUBLIC; unset:
        everywhere but production)."""
        return not self.is_production if self.api_docs_public is None else self.api_docs_public

    @property
    def queue_names(self) -> dict[str, str]:
        """Logical queue key -> full queue name (prefix applied)."""
        return {
            "eod_fetch": self.queue_prefix + self.queue_eod_fetch,
            "settlement_compute": self.queue_prefix + self.queue_settlement_compute,
            "rewards_saga": self.queue_prefix + self.queue_rewards_saga,
        }
