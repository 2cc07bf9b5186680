"""/: the player web page, and its assets under /assets.

A static client of the public /v1 API, like the mobile apps: the routes return the same
files to anyone (read from the package when the app is built, never from a request
path), hold no data and touch no database. Everything on the page comes from /v1 with
the player's own bearer token (no /admin, no /internal)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from myapi.core.deps import ContainerDep
from myapi.core.errors import NotFoundError
from myapi.core.webassets import ASSET_CACHE_CONTROL, INDEX_CACHE_CONTROL, IfNoneMatch, load_bundle, serve
from myapi.playerui.assets import STATIC_DIR, PageOptions

router = APIRouter(tags=["player-ui"], include_in_schema=False)

# Read once, when the app is built: a missing or unknown file fails start-up.
BUNDLE = load_bundle(STATIC_DIR)


@router.get("/", summary="The player page (static; its data comes from the /v1 API)")
def player_page(container: ContainerDep, if_none_match: IfNoneMatch = None) -> Response:
    page = BUNDLE.page({"CONFIG": PageOptions.of(container.settings()).as_json()})
    return serve(page, INDEX_CACHE_CONTROL, if_none_match)


@router.get("/assets/{build}/{path:path}", summary="A script, style sheet or icon of one build")
def player_asset(build: str, path: str, if_none_match: IfNoneMatch = None) -> Response:
    file = BUNDLE.asset(build, path)
    if file is None:
        raise NotFoundError("No such page asset")
    return serve(file, ASSET_CACHE_CONTROL, if_none_match)
