"""/docs and /redoc over HTTP: same-origin assets only, each served by the app with its
content type and cached; a CSP that allows scripts of 'self' only; no inline script. The
checks the static pages share are tests/support/static_pages.py's."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from myapi.apidocs.assets import REDOC_POLICY, SWAGGER_POLICY
from myapi.apidocs.router import BUNDLE
from tests.support.static_pages import Shell, assert_not_found, assert_revalidated_page, shell

PAGES = {"/docs": SWAGGER_POLICY, "/redoc": REDOC_POLICY}
ASSET_TYPES = {"script": ("text/javascript",), "stylesheet": ("text/css",), "icon": ("image/png",)}


def _page(client: TestClient, path: str) -> Shell:
    r = client.get(path)
    assert r.status_code == 200, path
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    return shell(r.text)


def _assets(page: Shell) -> list[tuple[str, str]]:
    """The page's assets: (kind, URL) of each script and link."""
    scripts = [("script", attrs.get("src") or "") for tag, attrs in page.tags if tag == "script"]
    links = [(attrs.get("rel") or "", attrs.get("href") or "") for tag, attrs in page.tags if tag == "link"]
    return scripts + links


@pytest.mark.parametrize("path", PAGES)
def test_the_page_references_only_same_origin_assets_and_each_is_served(
    static_client: TestClient, path: str
) -> None:
    page = _page(static_client, path)
    assert not page.inline_script and not page.inline_style and page.inline_attributes() == []
    assets = _assets(page)
    kinds = {kind for kind, _ in assets}
    assert "script" in kinds and "icon" in kinds
    for kind, url in assets:
        parts = urlsplit(url)
        assert url.startswith("/") and not url.startswith("//"), url
        assert not parts.scheme and not parts.netloc, url
        assert "http://" not in url and "https://" not in url
        r = static_client.get(url)
        assert r.status_code == 200, url
        assert r.headers["content-type"].startswith(ASSET_TYPES[kind]), (url, r.headers["content-type"])
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert len(r.content) > 0
    openapi_urls = [
        value
        for _, attrs in page.tags
        for name, value in attrs.items()
        if name in ("data-openapi-url", "spec-url")
    ]
    assert openapi_urls == ["/openapi.json"]


def test_swagger_ui_and_redoc_come_with_their_style_and_scripts(static_client: TestClient) -> None:
    swagger = {url.rsplit("/", 1)[1] for _, url in _assets(_page(static_client, "/docs"))}
    assert {"swagger-ui-bundle.js", "swagger-init.js", "swagger-ui.css"} <= swagger
    redoc = {url.rsplit("/", 1)[1] for _, url in _assets(_page(static_client, "/redoc"))}
    assert "redoc.standalone.js" in redoc
    bundle = static_client.get(f"/docs/assets/{BUNDLE.build}/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle
    assert "Redoc" in static_client.get(f"/docs/assets/{BUNDLE.build}/redoc.standalone.js").text
    # Swagger UI never asks the public validator about the document.
    assert "validatorUrl: null" in static_client.get(f"/docs/assets/{BUNDLE.build}/swagger-init.js").text


@pytest.mark.parametrize("path", PAGES)
def test_the_pages_allow_scripts_of_their_own_origin_only(static_client: TestClient, path: str) -> None:
    r = assert_revalidated_page(static_client, path, PAGES[path])
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in r.headers["content-security-policy"].split(";")
        if directive.strip()
    }
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
    assert not any("http" in source or source == "*" for sources in policy.values() for source in sources)
    # ReDoc writes its styles at run time: inline style there, never inline script.
    assert policy["style-src"] == (["'self'", "'unsafe-inline'"] if path == "/redoc" else ["'self'"])


def test_an_asset_is_revalidated_by_its_etag(static_client: TestClient) -> None:
    url = f"/docs/assets/{BUNDLE.build}/swagger-ui.css"
    first = static_client.get(url)
    again = static_client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_unknown_assets_and_other_builds_are_404(static_client: TestClient) -> None:
    assert_not_found(static_client, [
        f"/docs/assets/{BUNDLE.build}/nothing.js",
        "/docs/assets/000000000000/swagger-ui.css",
        f"/docs/assets/{BUNDLE.build}/..%2F..%2Fmain.py",
        f"/docs/assets/{BUNDLE.build}/swagger.html",
    ])  # fmt: skip


def test_the_page_follows_the_root_path_behind_a_proxy() -> None:
    page = BUNDLE.page("redoc.html", title="T <x>", openapi_url="/openapi.json", root_path="/api")
    text = page.body.decode()
    assert 'spec-url="/api/openapi.json"' in text and f"/api/docs/assets/{BUNDLE.build}/" in text
    assert "T &lt;x&gt; - ReDoc" in text


def test_the_docs_routes_are_get_only_public_and_out_of_the_document(app: FastAPI) -> None:
    routes = {
        route.path: route.methods
        for route in iter_route_contexts(list(app.routes))
        if route.path and route.path.startswith(("/docs", "/redoc", "/openapi.json"))
    }
    assert set(routes) == {"/docs", "/redoc", "/docs/assets/{build}/{name}", "/openapi.json"}
    assert all(methods is None or methods <= {"GET", "HEAD"} for methods in routes.values())
    assert not any(path.startswith(("/docs", "/redoc")) for path in app.openapi()["paths"])
