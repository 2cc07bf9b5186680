"""/docs and /redoc over HTTP: same-origin assets only, each served by the app with its
content type and cached; a CSP that allows scripts of 'self' only; no inline script."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from myapi.apidocs.router import BUNDLE
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.main import create_app
from tests.support.app import build_test_container
from tests.support.days import DEFAULT_NOW

PAGES = ("/docs", "/redoc")
ASSET_TYPES = {"script": ("text/javascript",), "stylesheet": ("text/css",), "icon": ("image/png",)}


class _Page(HTMLParser):
    """The page's assets (script src, link href) and whether any script is inline."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[tuple[str, str]] = []  # (kind, URL)
        self.inline_script = False
        self.openapi_urls: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self._in_script = tag == "script"
        if tag == "script":
            self.assets.append(("script", values.get("src", "")))
        elif tag == "link":
            self.assets.append((values.get("rel", ""), values.get("href", "")))
        for name in ("data-openapi-url", "spec-url"):
            if name in values:
                self.openapi_urls.append(values[name])
        if any(name.startswith("on") or name == "style" for name in values):
            self.inline_script = True  # an event handler or inline style attribute

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True


@pytest.fixture(scope="module")
def docs(settings: Settings, engine: Engine, queues_ready: None) -> Iterator[TestClient]:
    """One app for the module's reads of static files (they touch no database)."""
    app = create_app(container=build_test_container(settings, FrozenClock(DEFAULT_NOW), engine))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _page(client: TestClient, path: str) -> _Page:
    r = client.get(path)
    assert r.status_code == 200, path
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    parser = _Page()
    parser.feed(r.text)
    return parser


@pytest.mark.parametrize("path", PAGES)
def test_the_page_references_only_same_origin_assets_and_each_is_served(docs: TestClient, path: str) -> None:
    page = _page(docs, path)
    assert not page.inline_script
    kinds = {kind for kind, _ in page.assets}
    assert "script" in kinds and "icon" in kinds
    for kind, url in page.assets:
        parts = urlsplit(url)
        assert url.startswith("/") and not url.startswith("//"), url
        assert not parts.scheme and not parts.netloc, url
        assert "http://" not in url and "https://" not in url
        r = docs.get(url)
        assert r.status_code == 200, url
        assert r.headers["content-type"].startswith(ASSET_TYPES[kind]), (url, r.headers["content-type"])
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert len(r.content) > 0
    assert page.openapi_urls == ["/openapi.json"]


def test_swagger_ui_and_redoc_come_with_their_style_and_scripts(docs: TestClient) -> None:
    swagger = {url.rsplit("/", 1)[1] for _, url in _page(docs, "/docs").assets}
    assert {"swagger-ui-bundle.js", "swagger-init.js", "swagger-ui.css"} <= swagger
    redoc = {url.rsplit("/", 1)[1] for _, url in _page(docs, "/redoc").assets}
    assert "redoc.standalone.js" in redoc
    bundle = docs.get(f"/docs/assets/{BUNDLE.build}/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle
    assert "Redoc" in docs.get(f"/docs/assets/{BUNDLE.build}/redoc.standalone.js").text
    # Swagger UI never asks the public validator about the document.
    assert "validatorUrl: null" in docs.get(f"/docs/assets/{BUNDLE.build}/swagger-init.js").text


@pytest.mark.parametrize("path", PAGES)
def test_the_pages_allow_scripts_of_their_own_origin_only(docs: TestClient, path: str) -> None:
    r = docs.get(path)
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
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-frame-options"] == "DENY"


def test_a_page_or_asset_is_revalidated_by_its_etag(docs: TestClient) -> None:
    for url in ("/docs", f"/docs/assets/{BUNDLE.build}/swagger-ui.css"):
        first = docs.get(url)
        again = docs.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b"", url


def test_unknown_assets_and_other_builds_are_404(docs: TestClient) -> None:
    for url in (
        f"/docs/assets/{BUNDLE.build}/nothing.js",
        "/docs/assets/000000000000/swagger-ui.css",
        f"/docs/assets/{BUNDLE.build}/..%2F..%2Fmain.py",
        f"/docs/assets/{BUNDLE.build}/swagger.html",
    ):
        r = docs.get(url)
        assert r.status_code == 404, url
        assert r.json()["error"]["code"] == "SYS_404"


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
