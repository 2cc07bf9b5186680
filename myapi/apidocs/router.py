"""/docs (Swagger UI), /redoc (ReDoc) and their assets, all served by the app itself: the
pages work without internet. Public, like /openapi.json, where the docs are served at all
(API_DOCS_PUBLIC; by default not in production: myapi.apidocs); out of the OpenAPI
document.

The pages hold no data and reach no database: they load the document from
/openapi.json, and Swagger UI's "Try it out" calls the API with the token the reader
enters."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from myapi.apidocs.assets import (
    ASSET_POLICY,
    ASSETS_PATH,
    DOCS_PATH,
    REDOC_PATH,
    REDOC_POLICY,
    SWAGGER_POLICY,
    load_docs_bundle,
)
from myapi.core.webassets import INDEX_CACHE_CONTROL, IfNoneMatch, serve, serve_asset

router = APIRouter(tags=["docs"], include_in_schema=False)

# Read once, when the app is built: a missing file fails start-up.
BUNDLE = load_docs_bundle()


def _page(request: Request, name: str, policy: str, if_none_match: str | None) -> Response:
    page = BUNDLE.page(
        name,
        title=request.app.title,
        openapi_url=request.app.openapi_url or "/openapi.json",
        root_path=request.scope.get("root_path", "").rstrip("/"),
    )
    return serve(page, INDEX_CACHE_CONTROL, if_none_match, policy)


@router.get(DOCS_PATH)
async def swagger_ui(request: Request, if_none_match: IfNoneMatch = None) -> Response:
    return _page(request, "swagger.html", SWAGGER_POLICY, if_none_match)


@router.get(REDOC_PATH)
async def redoc(request: Request, if_none_match: IfNoneMatch = None) -> Response:
    return _page(request, "redoc.html", REDOC_POLICY, if_none_match)


@router.get(ASSETS_PATH + "/{build}/{name}")
async def docs_asset(build: str, name: str, if_none_match: IfNoneMatch = None) -> Response:
    return serve_asset(BUNDLE, build, name, if_none_match, what="docs asset", policy=ASSET_POLICY)
