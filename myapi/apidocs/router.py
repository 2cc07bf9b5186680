"""/docs (Swagger UI), /redoc (ReDoc) and their assets, all served by the app itself: the
pages work without internet. Public, like /openapi.json; out of the OpenAPI document.

The pages hold no data and reach no database: they load the document from
/openapi.json, and Swagger UI's "Try it out" calls the API with the token the reader
enters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from myapi.apidocs.assets import (
    ASSET_CACHE_CONTROL,
    ASSETS_PATH,
    DOCS_PATH,
    PAGE_CACHE_CONTROL,
    REDOC_PATH,
    REDOC_POLICY,
    SECURITY_HEADERS,
    SWAGGER_POLICY,
    StaticFile,
    load_docs_bundle,
)
from myapi.core.errors import NotFoundError

router = APIRouter(tags=["docs"], include_in_schema=False)

# Read once, when the app is built: a missing file fails start-up.
BUNDLE = load_docs_bundle()

IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match")]


def _serve(file: StaticFile, headers: dict[str, str], if_none_match: str | None) -> Response:
    headers = {**SECURITY_HEADERS, **headers, "ETag": file.etag}
    if file.matches(if_none_match):
        return Response(status_code=304, headers=headers)
    return Response(file.body, media_type=file.content_type, headers=headers)


def _page(request: Request, name: str, policy: str, if_none_match: str | None) -> Response:
    page = BUNDLE.page(
        name,
        title=request.app.title,
        openapi_url=request.app.openapi_url or "/openapi.json",
        root_path=request.scope.get("root_path", "").rstrip("/"),
    )
    headers = {"Cache-Control": PAGE_CACHE_CONTROL, "Content-Security-Policy": policy}
    return _serve(page, headers, if_none_match)


@router.get(DOCS_PATH)
async def swagger_ui(request: Request, if_none_match: IfNoneMatch = None) -> Response:
    return _page(request, "swagger.html", SWAGGER_POLICY, if_none_match)


@router.get(REDOC_PATH)
async def redoc(request: Request, if_none_match: IfNoneMatch = None) -> Response:
    return _page(request, "redoc.html", REDOC_POLICY, if_none_match)


@router.get(ASSETS_PATH + "/{build}/{name}")
async def docs_asset(build: str, name: str, if_none_match: IfNoneMatch = None) -> Response:
    file = BUNDLE.asset(build, name)
    if file is None:
        raise NotFoundError("No such docs asset")
    return _serve(file, {"Cache-Control": ASSET_CACHE_CONTROL}, if_none_match)
