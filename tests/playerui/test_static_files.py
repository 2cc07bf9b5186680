"""/ and /assets over HTTP: the player page and its assets, their content types, cache and
security headers; the page is the same static shell for anyone (no data), loads nothing
from another origin and calls only the public /v1 API; only the bundle's own files are
served; what the page is told about the deployment follows its settings."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from myapi.auth.guards import route_guard
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.webassets import CONTENT_SECURITY_POLICY
from myapi.main import create_app
from myapi.playerui.assets import STATIC_DIR, PageOptions
from myapi.playerui.router import BUNDLE
from tests.support.app import build_test_container, make_settings
from tests.support.days import DEFAULT_NOW
from tests.support.http import bearer, dev_login
from tests.support.production import PRODUCTION_OK

SVG_NS = "http://www.w3.org/2000/svg"  # a namespace name, never fetched


class _Shell(HTMLParser):
    """The tags of the page with every attribute, and whether a script has inline code."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_script = False
        self.inline_style = False
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in = tag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script" and data.strip():
            self.inline_script = True
        if self._in == "style" and data.strip():
            self.inline_style = True


def _shell(page: str) -> _Shell:
    parser = _Shell()
    parser.feed(page)
    return parser


def _config(page: str) -> dict[str, Any]:
    meta = re.search(r'<meta name="oxu-config" content="([^"]*)">', page)
    assert meta is not None
    config: dict[str, Any] = json.loads(html.unescape(meta.group(1)))
    return config


@pytest.fixture(scope="module")
def ui(settings: Settings, engine: Engine, queues_ready: None) -> Iterator[TestClient]:
    """One app for the module's reads of static files (they touch no database)."""
    app = create_app(container=build_test_container(settings, FrozenClock(DEFAULT_NOW), engine))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_the_page_is_html_with_a_strict_csp_and_revalidated(ui: TestClient) -> None:
    r = ui.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    csp = r.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["etag"].startswith('"')
    again = ui.get("/", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == r.headers["etag"]
    assert again.headers["content-security-policy"] == csp


def test_the_page_has_no_inline_code_and_loads_only_its_own_assets(ui: TestClient) -> None:
    shell = _shell(ui.get("/").text)
    assert not shell.inline_script and not shell.inline_style
    scripts = [attrs for tag, attrs in shell.tags if tag == "script"]
    assert scripts and all(attrs.get("src") and attrs.get("type") == "module" for attrs in scripts)
    for tag, attrs in shell.tags:
        assert tag != "style", attrs
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert "style" not in attrs, (tag, attrs)
    urls = [a.get("src") or a.get("href") for t, a in shell.tags if t in ("script", "link", "img")]
    assert len(urls) >= 4
    for url in urls:
        assert url is not None and url.startswith(f"assets/{BUNDLE.build}/"), url
        assert ui.get(f"/{url}").status_code == 200, url
    # Links are the page's own routes (#/today, ...): no other page, no other origin.
    links = [a.get("href") for t, a in shell.tags if t == "a"]
    assert links and all(str(href).startswith("#/") for href in links), links


def test_no_asset_reaches_another_origin_or_builds_markup_from_data() -> None:
    """No URL of another origin in any script, style sheet or icon (no CDN, no web font),
    no @import; the DOM is built from data with text nodes only: no innerHTML,
    insertAdjacentHTML, eval or style attributes (the CSP refuses inline style)."""
    external = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
    forbidden = re.compile(
        r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML\(|\beval\(|new Function\(|"
        r"setAttribute\(\"style\"|document\.write|\.style\s*=|@import"
    )
    assert len([name for name in BUNDLE.assets if name.endswith(".js")]) >= 10
    for name, file in BUNDLE.assets.items():
        text = file.body.decode().replace(SVG_NS, "")
        assert external.search(text) is None, (name, external.search(text))
        hit = forbidden.search(text)
        assert hit is None, (name, hit and hit.group(0))


def test_the_scripts_call_the_public_v1_api_only() -> None:
    """Every API path in the scripts is under /v1: no /admin, no /internal."""
    paths: list[str] = []
    for name, file in BUNDLE.assets.items():
        if name.endswith(".js"):
            paths += re.findall(r"[\"`](/[a-z][^\"`]*)", file.body.decode())
    assert len(paths) >= 20
    assert all(path.startswith("/v1/") for path in paths), [p for p in paths if not p.startswith("/v1/")]


def test_assets_have_their_content_types_and_are_cached_for_a_year(ui: TestClient) -> None:
    js = "text/javascript; charset=utf-8"
    expected = {"app.js": js, "views/today.js": js, "app.css": "text/css; charset=utf-8",
                "favicon.svg": "image/svg+xml"}  # fmt: skip
    for name, content_type in expected.items():
        r = ui.get(f"/assets/{BUNDLE.build}/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"] == content_type
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert r.content == (STATIC_DIR / "assets" / name).read_bytes()
        assert ui.get(r.url, headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def test_every_module_import_resolves_to_a_file_of_the_bundle() -> None:
    imports = 0
    for name, file in BUNDLE.assets.items():
        if not name.endswith(".js"):
            continue
        base = name.rsplit("/", 1)[0].split("/") if "/" in name else []
        for spec in re.findall(r'from "([^"]+)"', file.body.decode()):
            assert spec.startswith("."), (name, spec)  # nothing from a package or a CDN
            parts = list(base)
            for piece in spec.split("/"):
                if piece == "..":
                    parts.pop()
                elif piece != ".":
                    parts.append(piece)
            assert "/".join(parts) in BUNDLE.assets, (name, spec)
            imports += 1
    assert imports >= 20


def test_unknown_assets_other_builds_and_traversal_are_404(ui: TestClient) -> None:
    build = BUNDLE.build
    for url in (
        f"/assets/{build}/nope.js",
        "/assets/000000000000/app.js",
        f"/assets/{build}/../index.html",
        f"/assets/{build}/%2e%2e/%2e%2e/router.py",
        f"/assets/{build}/..%2f..%2frouter.py",
        "/index.html",
        "/assets/",
    ):
        r = ui.get(url)
        assert r.status_code == 404, url
        assert r.json()["error"]["code"] == "SYS_404"


def test_the_page_is_the_same_for_anyone_and_holds_no_data(client: TestClient) -> None:
    anonymous = client.get("/")
    player = dev_login(client, "player.page@example.com")
    admin = dev_login(client, "admin.page@example.com", role="ADMIN")
    for token in (player["access_token"], admin["access_token"]):
        r = client.get("/", headers=bearer(token))
        assert r.content == anonymous.content
    assert "player.page" not in anonymous.text and "admin.page" not in anonymous.text


def test_the_static_routes_are_get_only_and_reach_no_database(app: FastAPI) -> None:
    routes = [
        r
        for r in iter_route_contexts(list(app.routes))
        if r.path == "/" or (r.path or "").startswith("/assets")
    ]
    assert {r.path for r in routes} == {"/", "/assets/{build}/{path:path}"}
    for route in routes:
        assert route.methods == {"GET"}
        assert route_guard(route) == "none"
        calls = {dep.call.__name__ for dep in _dependencies(route)}
        assert calls <= {"get_container"}, calls


def _dependencies(route: Any) -> list[Any]:
    stack = list(route.dependant.dependencies)
    seen = []
    while stack:
        dep = stack.pop()
        seen.append(dep)
        stack.extend(dep.dependencies)
    return seen


def test_the_page_is_told_the_sign_ins_and_ads_of_this_deployment(ui: TestClient, settings: Settings) -> None:
    """Dev login where it is enabled (never in production); a provider when its client is
    configured, with the allow-listed redirect URIs that end at `/`; the development ad
    receipt exactly where create_app mounts it."""
    assert _config(ui.get("/").text) == {"dev_login": True, "providers": {}, "dev_ads": True}
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
