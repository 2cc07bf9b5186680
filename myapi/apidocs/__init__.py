"""The API's documentation: the OpenAPI document at /openapi.json made fit for client
generators (myapi.apidocs.openapi), and Swagger UI at /docs and ReDoc at /redoc served
with the app's own assets, so they work offline (myapi.apidocs.router).

Served only where the setting says so (`Settings.serves_api_docs`: API_DOCS_PUBLIC,
unset = everywhere but production); elsewhere the three paths are 404 `SYS_404`, and
`app.openapi()` still builds the document (tests, tools)."""

from __future__ import annotations

from fastapi import FastAPI

from myapi.apidocs.openapi import install_openapi, operation_id
from myapi.apidocs.router import router

__all__ = ["OPENAPI_URL", "install_api_docs", "openapi_url", "operation_id"]

OPENAPI_URL = "/openapi.json"


def openapi_url(public: bool) -> str | None:
    """FastAPI's `openapi_url`: the document's path when the docs are served, else None
    (FastAPI then adds no route for it)."""
    return OPENAPI_URL if public else None


def install_api_docs(app: FastAPI, *, public: bool) -> None:
    """The documented OpenAPI document on `app` (built with docs_url=None,
    redoc_url=None, openapi_url=openapi_url(public) and
    generate_unique_id_function=operation_id) and, when `public`, /docs, /redoc and
    their assets."""
    install_openapi(app)
    if public:
        app.include_router(router)
