"""Imports every model so that `Base.metadata` is complete (Alembic, tests)."""

from myapi.alerts.models import AdminAlert
from myapi.audit.models import AuditLog
from myapi.auth.models import OAuthState, RefreshToken
from myapi.core.base import Base
from myapi.core.models import IdempotencyKey
from myapi.crowd.models import SymbolCrowd
from myapi.cycle.models import SessionControl
from myapi.dashboard.models import DashboardDay, DashboardSymbolDay
from myapi.jobs.models import JobRun
from myapi.leaderboard.models import LeaderboardEntry, LeaderboardScore, LeaderboardScoreBlock, PlayerDay
from myapi.maintenance.models import SystemFlag
from myapi.market.models import EodFetchLog, EodPrice
from myapi.notifications.models import Notification
from myapi.outbox.models import OutboxEvent
from myapi.points.models import PointBalance, PointsHold, PointsLedgerEntry
from myapi.predictions.models import Prediction
from myapi.push.models import PushDelivery, PushDevice, PushPreferences
from myapi.ratelimit.models import RateLimitWindow
from myapi.rewards.models import RewardInventory, RewardRedemption
from myapi.settlement.models import Settlement, SymbolDayReview
from myapi.slots.models import AdUnlock, DailySlots
from myapi.universe.models import ActiveUniverse
from myapi.users.models import User

metadata = Base.metadata

__all__ = [
    "ActiveUniverse",
    "AdminAlert",
    "AdUnlock",
    "AuditLog",
    "DashboardDay",
    "DashboardSymbolDay",
    "Base",
    "EodFetchLog",
    "EodPrice",
    "IdempotencyKey",
    "JobRun",
    "LeaderboardEntry",
    "LeaderboardScore",
    "LeaderboardScoreBlock",
    "Notification",
    "SystemFlag",
    "OAuthState",
    "OutboxEvent",
    "PlayerDay",
    "PointBalance",
    "PointsHold",
    "PointsLedgerEntry",
    "Prediction",
    "PushDelivery",
    "PushDevice",
    "PushPreferences",
    "RateLimitWindow",
    "RefreshToken",
    "RewardInventory",
    "RewardRedemption",
    "SessionControl",
    "Settlement",
    "SymbolCrowd",
    "SymbolDayReview",
    "User",
    "DailySlots",
    "metadata",
]
