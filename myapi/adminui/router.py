"""/admin/ui: the operators' console, its page and its assets.

These routes are public on purpose and the only `/admin` routes without `require_admin`:
they return the same static files to anyone (read from the package at import, never
from a request path), hold no data and touch no database. Every figure on the page
comes from the guarded `/admin` API, called with the operator's own bearer token, so a
player who opens the page sees "Administrator role required" and nothing else.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from myapi.adminui.assets import STATIC_DIR, UI_PATH, SignInOptions
from myapi.core.webassets import SHARED_DIR, add_page_routes, load_bundle

router = APIRouter(prefix="/admin/ui", tags=["admin-ui"], include_in_schema=False)

# Read once, when the app is built: a missing or unknown file fails start-up.
BUNDLE = load_bundle(STATIC_DIR, shared=SHARED_DIR)


@router.get("", summary="The console lives at /admin/ui/")
def console_redirect() -> RedirectResponse:
    return RedirectResponse(UI_PATH, status_code=308)


# GET /admin/ui/ (the page, told the sign-ins back to it) and /admin/ui/assets/{build}/{path}.
add_page_routes(
    router, BUNDLE, name="console", values=lambda settings: {"SIGN_IN": SignInOptions.of(settings).as_json()}
)
