"""limit/offset paging for list endpoints; totals go to the envelope's meta."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from myapi.core.schemas import Envelope, ok

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page:
    return Page(limit, offset)


PageDep = Annotated[Page, Depends(page_params)]


def page_of(model: type[M], rows: Iterable[object], total: int, page: Page) -> Envelope[list[M]]:
    """One page of `rows` as `model`s, with total/limit/offset in the meta."""
    items = [model.model_validate(row) for row in rows]
    return ok(items, total=total, limit=page.limit, offset=page.offset)
