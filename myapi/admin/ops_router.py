"""/admin operator tools: EOD backfill, the queues and their DLQs, user search and
suspension. Every route requires role ADMIN (router-level guard) and calls the same
code as the scheduler and the CLI (`Jobs`, `QueueService`, `UserService`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import StringConstraints

from myapi.auth.guards import AdminDep, require_admin
from myapi.core.pagination import PageDep
from myapi.core.schemas import Envelope, ok
from myapi.deps import EodBackfillServiceDep, JobsDep, QueueServiceDep, UserServiceDep
from myapi.jobs.schemas import BackfillIn, BackfillOut, BackfillProgressOut
from myapi.queues.schemas import DeadLetterOut, QueueStatusOut, RedriveIn, RedriveOut, RedriveOutcomeOut
from myapi.users.schemas import AdminUserOut, SuspensionIn, SuspensionOut

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

QueueKeyPath = Annotated[
    str, Path(min_length=1, max_length=64, description="a key of QUEUE_* (eod_fetch, ...)")
]
UserId = Annotated[int, Path(ge=1, le=2**63 - 1)]
RunId = Annotated[int, Path(ge=1, le=2**63 - 1)]


# --- EOD backfill ---------------------------------------------------------------------
@router.post(
    "/eod/backfill",
    status_code=202,
    summary="Queue the EOD fetch of every trading day of a range that still lacks closes (resumable)",
)
def eod_backfill(body: BackfillIn, admin: AdminDep, jobs: JobsDep) -> Envelope[BackfillOut]:
    """Queues the EOD fetch of every trading day of a range that still lacks closes (202). Resumable:
    running it again queues only the days still missing; follow it with
    `GET /admin/eod/backfill/{backfill_id}`."""
    result = jobs.backfill_eod(body.first, body.last, actor=f"user:{admin.id}")
    return ok(BackfillOut.of(result))


@router.get("/eod/backfill/{backfill_id}", summary="An EOD backfill's progress, day by day, from job_runs")
def eod_backfill_progress(
    backfill_id: RunId, service: EodBackfillServiceDep
) -> Envelope[BackfillProgressOut]:
    """The progress of an EOD backfill, day by day, from the job runs it started: which days are done,
    failed or still waiting."""
    return ok(BackfillProgressOut.of(service.progress(backfill_id)))


# --- queues and their DLQs ------------------------------------------------------------
@router.get("/queues", summary="Every queue and its DLQ with their depths")
def queues(service: QueueServiceDep) -> Envelope[list[QueueStatusOut]]:
    """Every queue the system uses and its dead-letter queue, each with its messages visible, in
    flight and delayed (and whether it exists at all)."""
    return ok([QueueStatusOut.of(s) for s in service.overview()])


@router.get("/queues/{key}/dlq", summary="Peek at a queue's dead letters (they stay where they are)")
def dlq_peek(
    key: QueueKeyPath, service: QueueServiceDep, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> Envelope[list[DeadLetterOut]]:
    """Shows up to `limit` dead letters of a queue with their bodies, attributes and receive counts,
    leaving them where they are (each look counts as one more receive)."""
    return ok([DeadLetterOut.of(m) for m in service.peek(service.key_for(key), limit)])


@router.post(
    "/queues/{key}/dlq/redrive", summary="Move dead letters back to their queue (per-message result)"
)
def dlq_redrive(key: QueueKeyPath, body: RedriveIn, service: QueueServiceDep) -> Envelope[RedriveOut]:
    """Moves dead letters back to their queue for another try: some by message id, or up to `limit`;
    answers the result per message."""
    queue_key = service.key_for(key)
    outcomes = service.redrive(queue_key, body.limit, body.message_ids)
    source, dlq = service.names(queue_key)
    return ok(
        RedriveOut(
            key=queue_key,
            queue=source,
            dlq=dlq,
            moved=sum(1 for o in outcomes if o.status == "MOVED"),
            results=[RedriveOutcomeOut.of(o) for o in outcomes],
        )  # fmt: skip
    )


# --- users ----------------------------------------------------------------------------
@router.get("/users", summary="Search users by email or nickname (case-insensitive; paginated)")
def user_search(
    users: UserServiceDep,
    page: PageDep,
    q: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=2, max_length=100),
        Query(description="part of an email or a nickname (2-100 characters)"),
    ],
    match: Annotated[
        Literal["contains", "prefix"], Query(description="contains (default) or prefix")
    ] = "contains",
) -> Envelope[list[AdminUserOut]]:
    """Searches users by part of their email or nickname (case-insensitive; `match=prefix` for
    prefixes), with their role and account state; paginated, `meta.total`."""
    profiles, total = users.search(q, match, page.limit, page.offset)
    return ok([AdminUserOut.of(p) for p in profiles], total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/users/{user_id}/suspend",
    summary="Suspend an account: its tokens stop working at once, signing in is refused (audited)",
)
def user_suspend(
    user_id: UserId, body: SuspensionIn, admin: AdminDep, users: UserServiceDep
) -> Envelope[SuspensionOut]:
    """Suspends a player's account with a reason (audited): every token stops working at once and
    signing in is refused (`AUTH_005`) until an operator reactivates it. An operator cannot suspend
    their own account (`USER_002`)."""
    return ok(SuspensionOut.of(users.suspend(admin.id, user_id, body.reason)))


@router.post("/users/{user_id}/reactivate", summary="Lift an account's suspension (audited)")
def user_reactivate(
    user_id: UserId, body: SuspensionIn, admin: AdminDep, users: UserServiceDep
) -> Envelope[SuspensionOut]:
    """Lifts an account's suspension, with a reason (audited): the player can sign in again."""
    return ok(SuspensionOut.of(users.reactivate(admin.id, user_id, body.reason)))
