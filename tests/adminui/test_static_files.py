"""/admin/ui over HTTP: the page and its assets (with the modules shared with the player
page), their content types, cache and security headers; the page is the same static
shell for anyone (no data); only the bundle's own files are served. The checks the
static pages share are tests/support/static_pages.py's."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from myapi.adminui.assets import CONTENT_SECURITY_POLICY, STATIC_DIR, SignInOptions
from myapi.adminui.router import BUNDLE
from myapi.core import webassets
from myapi.core.config import Settings
from tests.support import static_pages
from tests.support.app import make_settings

ASSETS = f"/admin/ui/assets/{BUNDLE.build}"


def test_the_page_is_html_with_a_strict_csp_and_revalidated(static_client: TestClient) -> None:
    assert CONTENT_SECURITY_POLICY == webassets.CONTENT_SECURITY_POLICY
    static_pages.assert_strict_bundle_page(static_client, "/admin/ui/")


def test_the_bare_path_redirects_to_the_page(static_client: TestClient) -> None:
    r = static_client.get("/admin/ui", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/admin/ui/"


def test_the_page_has_no_inline_code_and_loads_only_its_own_assets(static_client: TestClient) -> None:
    static_pages.assert_loads_only_its_own_assets(static_client, "/admin/ui/", BUNDLE)


def test_no_asset_reaches_another_origin_or_builds_markup_from_data() -> None:
    static_pages.assert_no_asset_reaches_another_origin_or_builds_markup(BUNDLE)


def test_assets_have_their_content_types_and_are_cached_for_a_year(static_client: TestClient) -> None:
    js = "text/javascript; charset=utf-8"
    static_pages.assert_assets_served(static_client, ASSETS, STATIC_DIR, {
        "app.js": js, "views/dashboard.js": js, "shared/page.js": js,
        "app.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml",
    })  # fmt: skip


def test_the_shared_modules_and_head_are_the_consoles_too() -> None:
    static_pages.assert_the_shared_files_are_in_the_bundle(BUNDLE)


def test_every_module_import_resolves_to_a_file_of_the_bundle() -> None:
    static_pages.assert_every_module_import_resolves(BUNDLE, at_least=30)


def test_unknown_assets_other_builds_and_traversal_are_404(static_client: TestClient) -> None:
    static_pages.assert_not_found(static_client, static_pages.outside_the_bundle("/admin/ui", BUNDLE.build))


def test_the_page_is_the_same_for_anyone_and_holds_no_data(client: TestClient) -> None:
    static_pages.assert_the_same_for_anyone(client, "/admin/ui/", "ui")


def test_the_page_offers_the_sign_ins_this_deployment_has(static_client: TestClient) -> None:
    page = static_client.get("/admin/ui/").text
    meta = re.search(r'<meta name="oxu-sign-in" content="([^"]*)">', page)
    assert meta is not None
    assert meta.group(1) == "{&quot;dev_login&quot;: true, &quot;providers&quot;: {}}"


def test_the_static_routes_are_get_only_and_reach_no_database(app: FastAPI) -> None:
    """The exception tests/api/test_access_control.py makes for /admin/ui holds: these
    routes have no guard, no session and no service, and answer GET only."""
    routes = static_pages.static_routes(app, lambda path: path.startswith("/admin/ui"))
    assert set(routes) == {"/admin/ui", "/admin/ui/", "/admin/ui/assets/{build}/{path:path}"}
    static_pages.assert_get_only_and_no_database(routes.values())


def test_the_sign_in_options_follow_the_settings(settings: Settings) -> None:
    """A provider is offered when its client is configured, with the allow-listed
    redirect URIs that end at the console; dev login only where it is enabled."""
    configured = make_settings(
        settings.database_url,
        settings.sqs_endpoint_url or "",
        google_client_id="google-client",
        oauth_redirect_allowlist=["https://ops.example/admin/ui/", "https://app.example/auth/callback"],
        dev_login_enabled=False,
    )
    options = SignInOptions.of(configured)
    assert options.providers == {"google": ["https://ops.example/admin/ui/"]}
    assert options.dev_login is False
    assert SignInOptions.of(settings) == SignInOptions(dev_login=True, providers={})
