"""The response envelope of SPEC §8 and shared field types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, Field, PlainSerializer

from myapi.core.clock import to_kst
from myapi.core.request_context import current_request_id

T = TypeVar("T")

# Every timestamp in a response is ISO-8601 in KST (+09:00), whatever the storage zone.
KstDateTime = Annotated[datetime, PlainSerializer(lambda value: to_kst(value).isoformat(), return_type=str)]


class ErrorBody(BaseModel):
    code: str = Field(examples=["SYS_404"])
    message: str
    details: Any = None


class Envelope(BaseModel, Generic[T]):
    """`{success, data, error, meta}` for every JSON response."""

    success: bool = True
    data: T
    error: ErrorBody | None = None
    meta: dict[str, Any] = Field(default_factory=dict, examples=[{"request_id": "4f1c..."}])


class ErrorEnvelope(BaseModel):
    success: bool = False
    data: None = None
    error: ErrorBody
    meta: dict[str, Any] = Field(default_factory=dict)


def ok(data: T, **meta: Any) -> Envelope[T]:
    """Wrap a successful result; meta carries the request id and any paging figures."""
    return Envelope[T](data=data, meta={"request_id": current_request_id(), **meta})


# Error responses every route may return, for the OpenAPI document. A 429 only where the
# rate limit applies, and 401/403 where a guard does: myapi.apidocs derives those.
COMMON_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope, "description": description}
    for code, description in (
        (422, "SYS_422 validation failed (details list each field)"),
        (500, "SYS_500 internal error (no internals disclosed)"),
    )
}
