"""A floor to compare the real submit path with: one route that does only what a
prediction must do in the database — INSERT the row into crypto.predictions and one
crypto.outbox event, in one transaction — with no auth, rate limit, slots or
idempotency. Benchmark-only; it is not part of the app.

    BENCH_MINIMAL_ENDPOINT=1 BENCH_TRADING_DAY=2026-11-23 DATABASE_URL=... \\
        uvicorn --factory scripts.bench.minimal_app:create_minimal_app --workers 2

It refuses to start without BENCH_MINIMAL_ENDPOINT=1, so it is never served by accident.
The route is synchronous like the app's (FastAPI runs it in the thread pool) and
uses the app's engine and unit of work, so only the work per request differs.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import FastAPI, Header, Path
from fastapi.responses import JSONResponse
from sqlalchemy import text

from myapi.core.config import Settings
from myapi.core.db import make_engine, make_sessionmaker, unit_of_work
from myapi.predictions.schemas import ChoiceIn

ENABLE_VARIABLE = "BENCH_MINIMAL_ENDPOINT"
TRADING_DAY_VARIABLE = "BENCH_TRADING_DAY"

_INSERT_PREDICTION = text(
    "INSERT INTO crypto.predictions "
    "(trading_day, user_id, symbol, choice, baseline_price, submitted_at, updated_at) "
    "VALUES (:day, :user_id, :symbol, CAST(:choice AS crypto.choice), NULL, :now, :now) "
    "RETURNING id"
)
_INSERT_OUTBOX = text(
    "INSERT INTO crypto.outbox (topic, payload, group_id, dedup_id, created_at, next_attempt_at) "
    "VALUES ('prediction.submitted', CAST(:payload AS jsonb), :group_id, :dedup_id, :now, :now)"
)


def create_minimal_app() -> FastAPI:
    if os.environ.get(ENABLE_VARIABLE) != "1":
        raise RuntimeError(f"benchmark-only app: set {ENABLE_VARIABLE}=1 to serve it")
    trading_day = date.fromisoformat(os.environ[TRADING_DAY_VARIABLE])
    settings = Settings()
    engine = make_engine(settings)
    factory = make_sessionmaker(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(title="OX Universe submit benchmark floor", lifespan=lifespan)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/bench/predictions/{symbol}", status_code=202)
    def submit(
        symbol: Annotated[str, Path(min_length=1, max_length=10)],
        body: ChoiceIn,
        user_id: Annotated[int, Header(alias="X-User-Id")],
    ) -> JSONResponse:
        now = datetime.now(UTC)
        with unit_of_work(factory) as session:
            prediction_id = session.execute(
                _INSERT_PREDICTION,
                {
                    "day": trading_day,
                    "user_id": user_id,
                    "symbol": symbol,
                    "choice": body.choice.value,
                    "now": now,
                },
            ).scalar_one()
            payload = {
                "prediction_id": prediction_id,
                "user_id": user_id,
                "trading_day": trading_day.isoformat(),
                "symbol": symbol,
                "choice": body.choice.value,
                "submitted_at": now.isoformat(),
            }
            session.execute(
                _INSERT_OUTBOX,
                {
                    "payload": json.dumps(payload),
                    "group_id": f"user-{user_id}",
                    "dedup_id": f"prediction-{prediction_id}-submitted-{int(now.timestamp() * 1000)}",
                    "now": now,
                },
            )
        return JSONResponse(status_code=202, content={"success": True, "data": payload, "error": None})

    return app
