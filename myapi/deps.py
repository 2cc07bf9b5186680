"""Typed per-request service dependencies, one per service the container builds:
a route declares `service: PredictionServiceDep` and gets the service over the
request's one unit of work. Routers never construct a service themselves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from myapi.admin.service import AdminService
from myapi.auth.service import AuthService
from myapi.core.deps import ContainerDep, provide
from myapi.crowd.service import CrowdService
from myapi.cycle.service import SessionService
from myapi.health.service import ReadinessService
from myapi.jobs.definitions import Jobs
from myapi.leaderboard.service import LeaderboardService
from myapi.notifications.service import NotificationService
from myapi.points.service import PointsLedger
from myapi.predictions.service import PredictionService
from myapi.push.service import PushService
from myapi.rewards.saga import RedemptionSaga
from myapi.rewards.service import RewardService
from myapi.settlement.service import SettlementQueries
from myapi.slots.service import SlotService
from myapi.universe.service import UniverseService
from myapi.users.service import UserService

AdminServiceDep = Annotated[AdminService, Depends(provide(lambda c: c.admin_service))]
CrowdServiceDep = Annotated[CrowdService, Depends(provide(lambda c: c.crowd_service))]
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
