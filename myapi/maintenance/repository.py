"""SQL for the operator switches. Never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from myapi.maintenance.models import SystemFlag


class FlagsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, name: str) -> SystemFlag | None:
        return self.session.scalars(select(SystemFlag).where(SystemFlag.name == name)).one_or_none()

    def put(self, name: str, value: dict[str, Any], now: datetime, by: str) -> SystemFlag:
        statement = insert(SystemFlag).values(name=name, value=value, updated_at=now, updated_by=by)
        self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[SystemFlag.name],
                set_={"value": statement.excluded.value, "updated_at": now, "updated_by": by},
            )
        )
        self.session.expire_all()
        flag = self.get(name)
        assert flag is not None
        return flag
