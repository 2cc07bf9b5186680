"""/admin/ui: the operators' console, its page and its assets.

These routes are public on purpose and the only `/admin` routes without `require_admin`:
they return the same static files to anyone (read from the package at import, never
from a request path), hold no data and touch no database. Every figure on the page
comes from the guarded `/admin` API, called with the operator's own bearer token, so a
player who opens the page sees "Administrator role required" and nothing else.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse

from myapi.adminui.assets import STATIC_DIR, UI_PATH, SignInOptions
from myapi.core.deps import ContainerDep
from myapi.core.errors import NotFoundError
from myapi.core.webassets import ASSET_CACHE_CONTROL, INDEX_CACHE_CONTROL, IfNoneMatch, load_bundle, serve

router = APIRouter(prefix="/admin/ui", tags=["admin-ui"], include_in_schema=False)

# Read once, when the app is built: a missing or unknown file fails start-up.
BUNDLE = load_bundle(STATIC_DIR)


@router.get("", summary="The console lives at /admin/ui/")
def console_redirect() -> RedirectResponse:
    return RedirectResponse(UI_PATH, status_code=308)


@router.get("/", summary="The console's page (static; its data comes from the /admin API)")
def console_page(container: ContainerDep, if_none_match: IfNoneMatch = None) -> Response:
    page = BUNDLE.page({"SIGN_IN": SignInOptions.of(container.settings()).as_json()})
    return serve(page, INDEX_CACHE_CONTROL, if_none_match)


@router.get("/assets/{build}/{path:path}", summary="A script, style sheet or icon of one build")
def console_asset(build: str, path: str, if_none_match: IfNoneMatch = None) -> Response:
    file = BUNDLE.asset(build, path)
    if file is None:
        raise NotFoundError("No such console asset")
    return serve(file, ASSET_CACHE_CONTROL, if_none_match)
