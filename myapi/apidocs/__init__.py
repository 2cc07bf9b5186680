"""The API's documentation: the OpenAPI document at /openapi.json made fit for client
generators (myapi.apidocs.openapi), and Swagger UI at /docs and ReDoc at /redoc served
with the app's own assets, so they work offline (myapi.apidocs.router)."""

from __future__ import annotations

from fastapi import FastAPI

from myapi.apidocs.openapi import install_openapi, operation_id
from myapi.apidocs.router import router

__all__ = ["install_api_docs", "operation_id"]


def install_api_docs(app: FastAPI) -> None:
    """The documented /openapi.json, /docs, /redoc and their assets on `app` (built with
    docs_url=None, redoc_url=None and generate_unique_id_function=operation_id)."""
    install_openapi(app)
    app.include_router(router)
