"""GET /admin/audit: the audit log, newest first (ADMIN only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from myapi.audit.schemas import AuditEntryOut
from myapi.audit.service import AuditFilter
from myapi.auth.guards import require_admin
from myapi.core.pagination import PageDep, page_of
from myapi.core.schemas import Envelope
from myapi.deps import AuditServiceDep

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])
Text = Annotated[str | None, Query(min_length=1, max_length=200, pattern=r"^[\x20-\x7e]+$")]


@router.get(
    "/audit",
    summary="The audit log, newest first: every admin and internal write, filtered (paginated; meta.total)",
)
def audit_log(
    service: AuditServiceDep,
    page: PageDep,
    actor: Annotated[Text, Query(description="exact, e.g. user:42 or internal:token")] = None,
    action: Annotated[Text, Query(description="exact, e.g. admin.adjust_points")] = None,
    target: Annotated[
        Text, Query(description="exact, e.g. user:42; ending in ':' matches a prefix (user:)")
    ] = None,
    at_from: Annotated[
        AwareDatetime | None, Query(alias="from", description="ISO-8601 with an offset")
    ] = None,
    at_to: Annotated[
        AwareDatetime | None, Query(alias="to", description="exclusive; ISO-8601 with an offset")
    ] = None,
) -> Envelope[list[AuditEntryOut]]:
    """The audit log, newest first: every /admin and /internal write (who, what, on which target, the
    request and its answer, refusals included) and the domain changes recorded with it. Filtered by
    actor, action, target and time; paginated, `meta.total`."""
    rows, total = service.search(AuditFilter(actor, action, target, at_from, at_to), page.limit, page.offset)
    return page_of(AuditEntryOut, rows, total, page)
