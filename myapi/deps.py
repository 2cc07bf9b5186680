"""Typed per-request service dependencies, one per service the container builds:
a route declares `service: PredictionServiceDep` and gets the service over the
request's one unit of work. Routers never construct a service themselves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from myapi.admin.service import AdminService
from myapi.audit.service import AuditService
from myapi.auth.service import AuthService
from myapi.core.deps import ContainerDep, provide
from myapi.crowd.service import CrowdService
from myapi.cycle.service import SessionService
from myapi.dashboard.service import DashboardService
from myapi.health.service import ReadinessService
from myapi.jobs.definitions import Jobs
from myapi.jobs.service import EodBackfillService
from myapi.leaderboard.service import LeaderboardService
from myapi.maintenance.service import MaintenanceMode
from myapi.notifications.service import NotificationService
from myapi.points.service import PointsLedger
from myapi.predictions.service import PredictionService
from myapi.push.service import PushService
from myapi.queues.service import QueueService
from myapi.rewards.saga import RedemptionSaga
from myapi.rewards.service import RewardService
from myapi.settlement.service import SettlementQueries
from myapi.slots.service import SlotService
from myapi.universe.service import UniverseService
from myapi.users.service import UserService

AuditServiceDep = Annotated[AuditService, Depends(provide(lambda c: c.audit_service))]
MaintenanceModeDep = Annotated[MaintenanceMode, Depends(provide(lambda c: c.maintenance_mode))]
AdminServiceDep = Annotated[AdminService, Depends(provide(lambda c: c.admin_service))]
CrowdServiceDep = Annotated[CrowdService, Depends(provide(lambda c: c.crowd_service))]
DashboardServiceDep = Annotated[DashboardService, Depends(provide(lambda c: c.dashboard_service))]
EodBackfillServiceDep = Annotated[EodBackfillService, Depends(provide(lambda c: c.eod_backfill_service))]
AuthServiceDep = Annotated[AuthService, Depends(provide(lambda c: c.auth_service))]
LeaderboardServiceDep = Annotated[LeaderboardService, Depends(provide(lambda c: c.leaderboard_service))]
NotificationServiceDep = Annotated[NotificationService, Depends(provide(lambda c: c.notification_service))]
PointsLedgerDep = Annotated[PointsLedger, Depends(provide(lambda c: c.points_ledger))]
PredictionServiceDep = Annotated[PredictionService, Depends(provide(lambda c: c.prediction_service))]
PushServiceDep = Annotated[PushService, Depends(provide(lambda c: c.push_service))]
RewardServiceDep = Annotated[RewardService, Depends(provide(lambda c: c.reward_service))]
SessionServiceDep = Annotated[SessionService, Depends(provide(lambda c: c.session_service))]
SettlementQueriesDep = Annotated[SettlementQueries, Depends(provide(lambda c: c.settlement_queries))]
SlotServiceDep = Annotated[SlotService, Depends(provide(lambda c: c.slot_service))]
UniverseServiceDep = Annotated[UniverseService, Depends(provide(lambda c: c.universe_service))]
UserServiceDep = Annotated[UserService, Depends(provide(lambda c: c.user_service))]


async def get_jobs(container: ContainerDep) -> Jobs:
    # async: building the job set does no I/O (each job opens its own units of work).
    jobs: Jobs = container.jobs()
    return jobs


async def get_queue_service(container: ContainerDep) -> QueueService:
    # async: building it does no I/O (the routes calling SQS are sync, in the thread pool).
    service: QueueService = container.queue_service()
    return service


async def get_readiness(container: ContainerDep) -> ReadinessService:
    readiness: ReadinessService = container.readiness_service()
    return readiness


def get_reward_saga(container: ContainerDep) -> RedemptionSaga:
    # sync (thread pool): the saga opens its own units of work and may call the vendor.
    saga: RedemptionSaga = container.reward_saga()
    return saga


JobsDep = Annotated[Jobs, Depends(get_jobs)]
RewardSagaDep = Annotated[RedemptionSaga, Depends(get_reward_saga)]
ReadinessServiceDep = Annotated[ReadinessService, Depends(get_readiness)]
QueueServiceDep = Annotated[QueueService, Depends(get_queue_service)]
