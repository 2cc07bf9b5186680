"""Routes that exist only in tests, to drive the error handling and the unit of work
through the real app (middleware, dependencies, handlers)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import text

from myapi.core.db import DbSession
from myapi.core.errors import ConflictError, NotFoundError
from myapi.core.schemas import Envelope, ok

router = APIRouter(prefix="/test")


class EchoIn(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    qty: int = Field(gt=0)


@router.post("/echo")
def echo(body: EchoIn) -> Envelope[EchoIn]:
    return ok(body)


@router.get("/items/{item_id}")
def item(item_id: int) -> Envelope[dict[str, int]]:
    if item_id > 100:
        raise NotFoundError(f"item {item_id} does not exist", code="ITEM_404")
    return ok({"id": item_id})


@router.get("/boom")
def boom() -> Envelope[None]:
    raise RuntimeError("connection to db.internal:5432 password=hunter2 failed")


@router.post("/write")
def write(
    session: DbSession, tag: str, fail: Literal["none", "app", "crash"] = "none"
) -> Envelope[dict[str, int]]:
    """Writes an audit row, then succeeds or fails after the write (mid-transaction)."""
    row_id = session.execute(
        text(
            "INSERT INTO crypto.audit_log (actor, action, target) VALUES ('test', 'write', :tag) RETURNING id"
        ),
        {"tag": tag},
    ).scalar_one()
    session.execute(text("SELECT pg_sleep(0.002)"))
    if fail == "app":
        raise ConflictError("refused after writing")
    if fail == "crash":
        raise RuntimeError("bug after writing")
    return ok({"id": int(row_id)})


@router.post("/commit-fails")
def commit_fails(session: DbSession) -> Envelope[str]:
    """The route body succeeds but COMMIT fails (a deferred unique constraint): the
    client must get an error, never a success for work that was not committed."""
    session.execute(
        text(
            "CREATE TEMP TABLE deferred_probe (id int, "
            "CONSTRAINT deferred_probe_uq UNIQUE (id) DEFERRABLE INITIALLY DEFERRED) "
            "ON COMMIT DROP"
        )
    )
    session.execute(text("INSERT INTO deferred_probe VALUES (1), (1)"))
    session.execute(
        text("INSERT INTO crypto.audit_log (actor, action, target) VALUES ('test', 'commit-fails', 'x')")
    )
    return ok("route finished")
