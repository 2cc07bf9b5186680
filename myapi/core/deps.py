"""Small FastAPI dependencies that reach app-lifetime objects in the container."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

if TYPE_CHECKING:
    from myapi.container import Container


async def get_container(request: Request) -> Container:
    # async: no I/O, so it runs on the event loop instead of costing a thread-pool hop.
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated["Container", Depends(get_container)]
