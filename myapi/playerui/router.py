"""/: the player web page, and its assets under /assets.

A static client of the public /v1 API, like the mobile apps: the routes return the same
files to anyone (read from the package when the app is built, never from a request
path), hold no data and touch no database. Everything on the page comes from /v1 with
the player's own bearer token (no /admin, no /internal)."""

from __future__ import annotations

from fastapi import APIRouter

from myapi.core.webassets import SHARED_DIR, add_page_routes, load_bundle
from myapi.playerui.assets import STATIC_DIR, PageOptions

router = APIRouter(tags=["player-ui"], include_in_schema=False)

# Read once, when the app is built: a missing or unknown file fails start-up.
BUNDLE = load_bundle(STATIC_DIR, shared=SHARED_DIR)

# GET / (the page, told its sign-ins and whether the test ad exists) and /assets/{build}/{path}.
add_page_routes(
    router, BUNDLE, name="player", values=lambda settings: {"CONFIG": PageOptions.of(settings).as_json()}
)
