"""/ and /assets over HTTP: the player page and its assets (with the modules shared with
the console), their content types, cache and security headers; the page is the same
static shell for anyone (no data), loads nothing from another origin and calls only the
public /v1 API; only the bundle's own files are served; what the page is told about the
deployment follows its settings. The checks the static pages share are
tests/support/static_pages.py's; besides, how webassets loads a bundle with the shared
files."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from myapi.core.config import Settings
from myapi.core.webassets import SHARED_DIR, load_bundle
from myapi.main import create_app
from myapi.playerui.assets import STATIC_DIR, PageOptions
from myapi.playerui.router import BUNDLE
from tests.support import static_pages
from tests.support.app import make_settings
from tests.support.production import PRODUCTION_OK


def _config(page: str) -> dict[str, Any]:
    meta = re.search(r'<meta name="oxu-config" content="([^"]*)">', page)
    assert meta is not None
    config: dict[str, Any] = json.loads(html.unescape(meta.group(1)))
    return config


def test_the_page_is_html_with_a_strict_csp_and_revalidated(static_client: TestClient) -> None:
    static_pages.assert_strict_bundle_page(static_client, "/")


def test_the_page_has_no_inline_code_and_loads_only_its_own_assets(static_client: TestClient) -> None:
    page = static_pages.assert_loads_only_its_own_assets(static_client, "/", BUNDLE)
    assert len(page.urls("script", "link", "img")) >= 4  # the brand's icon too


def test_no_asset_reaches_another_origin_or_builds_markup_from_data() -> None:
    static_pages.assert_no_asset_reaches_another_origin_or_builds_markup(BUNDLE)


def test_the_scripts_call_the_public_v1_api_only() -> None:
    """Every API path in the scripts (the shared ones too) is under /v1: no /admin, no
    /internal."""
    paths: list[str] = []
    for name, file in BUNDLE.assets.items():
        if name.endswith(".js"):
            paths += re.findall(r"[\"`](/[a-z][^\"`]*)", file.body.decode())
    assert len(paths) >= 20
    assert all(path.startswith("/v1/") for path in paths), [p for p in paths if not p.startswith("/v1/")]


def test_assets_have_their_content_types_and_are_cached_for_a_year(static_client: TestClient) -> None:
    js = "text/javascript; charset=utf-8"
    static_pages.assert_assets_served(static_client, f"/assets/{BUNDLE.build}", STATIC_DIR, {
        "app.js": js, "views/today.js": js, "shared/api.js": js,
        "app.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml",
    })  # fmt: skip


def test_the_shared_modules_and_head_are_the_pages_too() -> None:
    static_pages.assert_the_shared_files_are_in_the_bundle(BUNDLE)


def test_every_module_import_resolves_to_a_file_of_the_bundle() -> None:
    static_pages.assert_every_module_import_resolves(BUNDLE, at_least=20)


def test_unknown_assets_other_builds_and_traversal_are_404(static_client: TestClient) -> None:
    outside = static_pages.outside_the_bundle("", BUNDLE.build)
    static_pages.assert_not_found(static_client, [*outside, "/assets/"])


def test_the_page_is_the_same_for_anyone_and_holds_no_data(client: TestClient) -> None:
    static_pages.assert_the_same_for_anyone(client, "/", "page")


def test_the_static_routes_are_get_only_and_reach_no_database(app: FastAPI) -> None:
    routes = static_pages.static_routes(app, lambda path: path == "/" or path.startswith("/assets"))
    assert set(routes) == {"/", "/assets/{build}/{path:path}"}
    static_pages.assert_get_only_and_no_database(routes.values())


def _bundle_dir(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_a_bundle_serves_the_shared_files_under_shared_and_its_build_covers_them(tmp_path: Path) -> None:
    """webassets' loader: the shared head in place of %HEAD% (at its indentation), the
    shared assets under shared/ beside the page's own; a change to a shared file is a new
    build; a page's own shared/ or a page without its %HEAD% fails at start-up."""
    index = "<html><head>\n  %HEAD%\n  <title>%BUILD%</title>\n</head></html>\n"
    page = _bundle_dir(tmp_path / "page", {"index.html": index, "assets/app.js": "import './shared/x.js';\n"})
    shared = _bundle_dir(tmp_path / "shared", {"head.html": "<a>\n<b>\n", "assets/x.js": "export {};\n"})
    bundle = load_bundle(page, shared=shared)
    assert sorted(bundle.assets) == ["app.js", "shared/x.js"]
    rendered = f"<html><head>\n  <a>\n  <b>\n  <title>{bundle.build}</title>\n</head></html>\n"
    assert bundle.page({}).body.decode() == rendered
    assert load_bundle(page, shared=shared).build == bundle.build
    (shared / "assets" / "x.js").write_text("export const x = 1;\n", encoding="utf-8")
    new_asset = load_bundle(page, shared=shared)
    assert new_asset.build != bundle.build
    (shared / "head.html").write_text("<c>\n", encoding="utf-8")
    new_head = load_bundle(page, shared=shared)
    assert new_head.build != new_asset.build and "\n  <c>\n" in new_head.page({}).body.decode()

    _bundle_dir(page, {"assets/shared/x.js": "export {};\n"})
    with pytest.raises(ValueError, match="shared/"):
        load_bundle(page, shared=shared)
    headless = _bundle_dir(tmp_path / "headless", {"index.html": "<html></html>\n", "assets/app.js": ""})
    with pytest.raises(ValueError, match="%HEAD%"):
        load_bundle(headless, shared=SHARED_DIR)


def test_the_page_is_told_the_sign_ins_and_ads_of_this_deployment(
    static_client: TestClient, settings: Settings
) -> None:
    """Dev login where it is enabled (never in production); a provider when its client is
    configured, with the allow-listed redirect URIs that end at `/`; the development ad
    receipt exactly where create_app mounts it."""
    assert _config(static_client.get("/").text) == {"dev_login": True, "providers": {}, "dev_ads": True}
    configured = make_settings(
        settings.database_url,
        settings.sqs_endpoint_url or "",
        google_client_id="google-client",
        kakao_client_id="kakao-client",
        oauth_redirect_allowlist=[
            "https://play.example/",
            "https://ops.example/admin/ui/",
            "https://app.example/cb",
        ],
        dev_login_enabled=False,
    )
    assert json.loads(PageOptions.of(configured).as_json()) == {
        "dev_login": False,
        "providers": {"google": ["https://play.example/"], "kakao": ["https://play.example/"]},
        "dev_ads": True,
    }


def test_production_offers_neither_dev_login_nor_the_test_ad(settings: Settings) -> None:
    prod = Settings(  # type: ignore[call-arg]
        _env_file=None,
        **{
            **PRODUCTION_OK,
            "database_url": settings.database_url,
            "sqs_endpoint_url": settings.sqs_endpoint_url,
        },
    )
    with TestClient(create_app(prod), raise_server_exceptions=False) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert _config(page.text) == {"dev_login": False, "providers": {}, "dev_ads": False}
        # The routes the page would have called are not there.
        assert client.post("/v1/ads/dev-receipt").status_code == 404
        assert client.post("/v1/auth/dev-login", json={"email": "x@example.com"}).status_code == 404
