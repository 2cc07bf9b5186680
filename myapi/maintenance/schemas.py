from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints


class MaintenanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool
    message: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=300, pattern=r"^[^\x00-\x1f\x7f]*$")
    ] = Field(default="", description="Shown to players in the MAINT_001 error (optional)")
    retry_after_s: int = Field(
        default=300, ge=1, le=86_400, strict=True, description="The Retry-After header"
    )


class MaintenanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    enabled: bool
    message: str
    retry_after_s: int
    updated_at: datetime | None
    updated_by: str | None
