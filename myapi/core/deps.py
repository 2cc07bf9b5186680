"""FastAPI dependencies that reach the composition root: the container itself, and
`provide()`, which turns a container factory into a typed per-request service
dependency (each domain's `deps.py` declares its own, e.g. `PredictionServiceDep`).

The container is imported for type checking only: core depends on no domain at run
time; the app puts the container on `app.state` (myapi.main).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from myapi.core.db import DbSession

if TYPE_CHECKING:
    from myapi.container import Container

S = TypeVar("S")


async def get_container(request: Request) -> Container:
    # async: no I/O, so it runs on the event loop instead of costing a thread-pool hop.
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated["Container", Depends(get_container)]


def provide(pick: Callable[[Container], Callable[[Session], S]]) -> Any:
    """A dependency building the service `pick(container)` over the request's session
    (the one unit of work of the request): `Annotated[X, Depends(provide(...))]`."""

    # async: building a service does no I/O, so it runs on the event loop instead of
    # costing a thread-pool hop on every request (the session itself is opened by the
    # sync DbSession dependency, in the pool).
    async def dependency(session: DbSession, container: ContainerDep) -> S:
        return pick(container)(session)

    return dependency
