"""The PostgreSQL enum types of SPEC §3, shared by models, schemas and migrations."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import Enum as SAEnum

from myapi.core.base import Base


class Phase(enum.StrEnum):
    PREDICT = "PREDICT"
    SETTLE = "SETTLE"


class Choice(enum.StrEnum):
    UP = "UP"
    DOWN = "DOWN"


class Outcome(enum.StrEnum):
    UP = "UP"
    DOWN = "DOWN"
    VOID = "VOID"


class PredictionStatus(enum.StrEnum):
    PENDING = "PENDING"
    CORRECT = "CORRECT"
    INCORRECT = "INCORRECT"
    VOID = "VOID"
    CANCELLED = "CANCELLED"


class HoldStatus(enum.StrEnum):
    OPEN = "OPEN"
    COMMITTED = "COMMITTED"
    CANCELLED = "CANCELLED"


class RedemptionStatus(enum.StrEnum):
    REQUESTED = "REQUESTED"
    RESERVED = "RESERVED"
    ISSUED = "ISSUED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


class UserRole(enum.StrEnum):
    USER = "USER"
    ADMIN = "ADMIN"


def pg_enum(python_enum: type[enum.Enum], name: str) -> SAEnum:
    """A native PostgreSQL enum type in schema `crypto`, storing the member values."""
    return SAEnum(
        python_enum,
        name=name,
        metadata=Base.metadata,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


PHASE = pg_enum(Phase, "phase")
CHOICE = pg_enum(Choice, "choice")
OUTCOME = pg_enum(Outcome, "outcome")
PREDICTION_STATUS = pg_enum(PredictionStatus, "prediction_status")
HOLD_STATUS = pg_enum(HoldStatus, "hold_status")
REDEMPTION_STATUS = pg_enum(RedemptionStatus, "redemption_status")
USER_ROLE = pg_enum(UserRole, "user_role")

ALL_ENUMS: dict[str, Any] = {
    "phase": PHASE,
    "choice": CHOICE,
    "outcome": OUTCOME,
    "prediction_status": PREDICTION_STATUS,
    "hold_status": HOLD_STATUS,
    "redemption_status": REDEMPTION_STATUS,
    "user_role": USER_ROLE,
}
