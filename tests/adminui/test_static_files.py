"""/admin/ui over HTTP: the page and its assets, their content types, cache and security
headers; the page is the same static shell for anyone (no data); only the bundle's own
files are served."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from myapi.adminui.assets import CONTENT_SECURITY_POLICY, STATIC_DIR, SignInOptions
from myapi.adminui.router import BUNDLE
from myapi.auth.guards import route_guard
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.main import create_app
from tests.support.app import build_test_container, make_settings
from tests.support.days import DEFAULT_NOW
from tests.support.http import bearer, dev_login


class _Shell(HTMLParser):
    """The tags of the page: scripts, styles, links and every attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_script = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True


@pytest.fixture(scope="module")
def ui(settings: Settings, engine: Engine, queues_ready: None) -> Iterator[TestClient]:
    """One app for the module's reads of static files (they touch no database)."""
    app = create_app(container=build_test_container(settings, FrozenClock(DEFAULT_NOW), engine))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _shell(html: str) -> _Shell:
    parser = _Shell()
    parser.feed(html)
    return parser


def test_the_page_is_html_with_a_strict_csp_and_revalidated(ui: TestClient) -> None:
    r = ui.get("/admin/ui/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    csp = r.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["etag"].startswith('"')
    again = ui.get("/admin/ui/", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == r.headers["etag"]


def test_the_bare_path_redirects_to_the_page(ui: TestClient) -> None:
    r = ui.get("/admin/ui", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/admin/ui/"


def test_the_page_has_no_inline_script_or_style_and_loads_only_its_own_assets(ui: TestClient) -> None:
    shell = _shell(ui.get("/admin/ui/").text)
    assert not shell.inline_script
    scripts = [attrs for tag, attrs in shell.tags if tag == "script"]
    assert scripts and all(attrs.get("src") for attrs in scripts)
    for _tag, attrs in shell.tags:
        assert not any(name.startswith("on") for name in attrs), attrs
        assert "style" not in attrs, attrs
    urls = [a.get("src") or a.get("href") for t, a in shell.tags if t in ("script", "link")]
    assert urls
    for url in urls:
        assert url is not None and url.startswith(f"assets/{BUNDLE.build}/"), url
        r = ui.get(f"/admin/ui/{url}")
        assert r.status_code == 200, url


def test_no_asset_sets_inline_style_or_html() -> None:
    """The CSP refuses inline style attributes, and the page builds DOM from data with
    text nodes only: no innerHTML, insertAdjacentHTML, eval or style attributes."""
    forbidden = re.compile(
        r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML\(|\beval\(|new Function\(|"
        r"setAttribute\(\"style\"|document\.write|\.style\s*="
    )
    scripts = [name for name in BUNDLE.assets if name.endswith(".js")]
    assert len(scripts) >= 10
    for name in scripts:
        hit = forbidden.search(BUNDLE.assets[name].body.decode())
        assert hit is None, (name, hit and hit.group(0))


def test_assets_have_their_content_types_and_are_cached_for_a_year(ui: TestClient) -> None:
    js = "text/javascript; charset=utf-8"
    expected = {"app.js": js, "views/dashboard.js": js, "app.css": "text/css; charset=utf-8",
                "favicon.svg": "image/svg+xml"}  # fmt: skip
    for name, content_type in expected.items():
        r = ui.get(f"/admin/ui/assets/{BUNDLE.build}/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"] == content_type
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.content == (STATIC_DIR / "assets" / name).read_bytes()
        assert ui.get(r.url, headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def test_every_module_import_resolves_to_a_file_of_the_bundle() -> None:
    for name, file in BUNDLE.assets.items():
        if not name.endswith(".js"):
            continue
        base = name.rsplit("/", 1)[0] if "/" in name else ""
        for spec in re.findall(r'from "(\.[^"]+)"', file.body.decode()):
            parts = [p for p in (base.split("/") if base else [])]
            for piece in spec.split("/"):
                if piece == "..":
                    parts.pop()
                elif piece != ".":
                    parts.append(piece)
            assert "/".join(parts) in BUNDLE.assets, (name, spec)


def test_unknown_assets_other_builds_and_traversal_are_404(ui: TestClient) -> None:
    build = BUNDLE.build
    for url in (
        f"/admin/ui/assets/{build}/nope.js",
        "/admin/ui/assets/000000000000/app.js",
        f"/admin/ui/assets/{build}/../index.html",
        f"/admin/ui/assets/{build}/%2e%2e/%2e%2e/router.py",
        f"/admin/ui/assets/{build}/..%2f..%2frouter.py",
        "/admin/ui/index.html",
    ):
        r = ui.get(url)
        assert r.status_code == 404, url
        assert r.json()["error"]["code"] == "SYS_404"


def test_the_page_is_the_same_for_anyone_and_holds_no_data(client: TestClient) -> None:
    anonymous = client.get("/admin/ui/")
    player = dev_login(client, "player.ui@example.com")
    admin = dev_login(client, "admin.ui@example.com", role="ADMIN")
    for token in (player["access_token"], admin["access_token"]):
        r = client.get("/admin/ui/", headers=bearer(token))
        assert r.content == anonymous.content
    assert "admin.ui@example.com" not in anonymous.text and "player.ui" not in anonymous.text


def test_the_page_offers_the_sign_ins_this_deployment_has(ui: TestClient) -> None:
    meta = re.search(r'<meta name="oxu-sign-in" content="([^"]*)">', ui.get("/admin/ui/").text)
    assert meta is not None
    assert meta.group(1) == "{&quot;dev_login&quot;: true, &quot;providers&quot;: {}}"


def test_the_static_routes_are_get_only_and_reach_no_database(app: FastAPI) -> None:
    """The exception tests/api/test_access_control.py makes for /admin/ui holds: these
    routes have no guard, no session and no service, and answer GET only."""
    routes = [r for r in iter_route_contexts(list(app.routes)) if (r.path or "").startswith("/admin/ui")]
    assert {r.path for r in routes} == {"/admin/ui", "/admin/ui/", "/admin/ui/assets/{build}/{path:path}"}
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
