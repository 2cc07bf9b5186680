"""The error hierarchy and the one handler that renders every error as the SPEC §8 envelope.

`{success: false, data: null, error: {code, message, details}, meta: {request_id}}`

Codes are stable strings, listed in docs/api.md. 4xx for expected cases, 5xx only
for bugs and outages, and a 5xx never carries internals.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sqlalchemy_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from myapi.core.request_context import current_request_id

logger = logging.getLogger("myapi.errors")


class AppError(Exception):
    """An expected failure with a stable code, a human message and an HTTP status."""

    status_code: int = 400
    code: str = "SYS_400"
    message: str = "Bad request"
    # True when the state change that led to the error must persist (e.g. revoking a
    # leaked refresh-token family): the unit of work commits before the error is sent.
    commit_transaction: bool = False
    # False for a refusal by the cycle's rules (a step that is not due): a worker drops
    # the message instead of retrying it, since redelivery cannot make it due; the
    # reconcile tick asks again when it is.
    retry_from_queue: bool = True

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        self.status_code = status_code or type(self).status_code
        self.details = details
        self.headers = headers
        super().__init__(self.message)


class BadRequestError(AppError):
    status_code = 400
    code = "SYS_400"
    message = "Bad request"


class UnauthorizedError(AppError):
    status_code = 401
    code = "AUTH_001"
    message = "Authentication required"


class ForbiddenError(AppError):
    status_code = 403
    code = "AUTH_003"
    message = "Not allowed"


class NotFoundError(AppError):
    status_code = 404
    code = "SYS_404"
    message = "Not found"


class ConflictError(AppError):
    status_code = 409
    code = "SYS_409"
    message = "Conflict"


class ValidationFailedError(AppError):
    status_code = 422
    code = "SYS_422"
    message = "Request validation failed"


class RateLimitedError(AppError):
    status_code = 429
    code = "SYS_429"
    message = "Too many requests"


class ServiceUnavailableError(AppError):
    status_code = 503
    code = "SYS_503"
    message = "Service unavailable"


# Codes for errors raised by the framework rather than by our code.
_HTTP_STATUS_CODES: dict[int, tuple[str, str]] = {
    400: ("SYS_400", "Bad request"),
    401: ("AUTH_001", "Authentication required"),
    403: ("AUTH_003", "Not allowed"),
    404: ("SYS_404", "Not found"),
    405: ("SYS_405", "Method not allowed"),
    406: ("SYS_406", "Not acceptable"),
    409: ("SYS_409", "Conflict"),
    413: ("SYS_413", "Request body too large"),
    415: ("SYS_415", "Unsupported media type"),
    422: ("SYS_422", "Request validation failed"),
    429: ("SYS_429", "Too many requests"),
    503: ("SYS_503", "Service unavailable"),
}
INTERNAL_ERROR_CODE = "SYS_500"
INTERNAL_ERROR_MESSAGE = "Internal server error"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {
        "success": False,
        "data": None,
        "error": {"code": code, "message": message, "details": jsonable_encoder(details)},
        "meta": {"request_id": current_request_id()},
    }


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(status_code=status_code, content=error_body(code, message, details), headers=headers)


def validation_details(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """FastAPI-style errors (`loc`, `msg`, `type`) as the envelope's details: `location`
    (body, path, query, header) and the dotted `field` within it. Used for the framework's
    validation errors and by the input guard (myapi.core.input_guard)."""
    details: list[dict[str, Any]] = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        details.append(
            {
                "field": ".".join(loc[1:]) if len(loc) > 1 else ".".join(loc),
                "location": loc[0] if loc else None,
                "message": err.get("msg", "invalid"),
                "type": err.get("type", "value_error"),
            }
        )
    return details


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return validation_details(exc.errors())


async def _handle_app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if exc.status_code >= 500:
        logger.error("app error %s: %s", exc.code, exc.message)
    return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


async def _handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "SYS_422", "Request validation failed", _validation_details(exc))


async def _handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, message = _HTTP_STATUS_CODES.get(exc.status_code, (f"SYS_{exc.status_code}", "Error"))
    if exc.status_code >= 500:
        code, message = INTERNAL_ERROR_CODE, INTERNAL_ERROR_MESSAGE
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, code, message, None, headers)


async def _handle_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Pool exhausted, database unreachable or a statement timed out: an outage, not a
    # bug — the client may retry. Logged with the request id; no internals in the body.
    logger.error("database unavailable: %s", type(exc).__name__, exc_info=exc)
    return error_response(
        503, "SYS_503", "The service is busy or the database is unavailable; retry shortly",
        headers={"Retry-After": "1"},
    )  # fmt: skip


def install_error_handlers(app: FastAPI) -> None:
    """Route every error the framework can raise through the envelope.

    Unhandled exceptions (bugs) are turned into a bare 500 envelope by the
    request-context middleware, which also logs them with the request id.
    """
    app.add_exception_handler(AppError, _handle_app_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(sqlalchemy_exc.TimeoutError, _handle_database_unavailable)
    app.add_exception_handler(sqlalchemy_exc.OperationalError, _handle_database_unavailable)
