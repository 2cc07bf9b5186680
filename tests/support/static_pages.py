"""The checks the static pages' tests share (tests/adminui, tests/playerui, tests/apidocs):
the pages and assets myapi/core/webassets.py serves, over HTTP, without a browser. Each
suite calls them with its page's path and bundle, and adds what only its page has.

`static_client` is the fixture of those modules: import it into the test module (as
tests/support/browser.py's `browser` is)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from myapi.auth.guards import route_guard
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.webassets import (
    ASSET_CACHE_CONTROL,
    CONTENT_SECURITY_POLICY,
    SHARED_DIR,
    SHARED_PREFIX,
    BuildAssets,
    Bundle,
)
from myapi.main import create_app
from tests.support.app import build_test_container
from tests.support.days import DEFAULT_NOW
from tests.support.http import bearer, dev_login

SHARED_ASSETS = SHARED_DIR / "assets"
SVG_NS = "http://www.w3.org/2000/svg"  # a namespace name, never fetched
# A URL of another origin (a CDN, a web font), and what would build markup from data or
# run a string as code (the page builds DOM with text nodes only; the CSP refuses inline
# style, and @import would load a style sheet the page does not name).
EXTERNAL = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
FORBIDDEN = re.compile(
    r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML\(|\beval\(|new Function\(|"
    r"setAttribute\(\"style\"|document\.write|\.style\s*=|@import"
)


class Shell(HTMLParser):
    """The tags of a page with every attribute, and whether a script or style element
    holds inline code."""

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

    def inline_attributes(self) -> list[tuple[str, dict[str, str | None]]]:
        """The tags with an event handler (on...) or a style attribute."""
        return [
            (tag, attrs)
            for tag, attrs in self.tags
            if "style" in attrs or any(name.startswith("on") for name in attrs)
        ]

    def urls(self, *tags: str) -> list[str | None]:
        """The src (else href) of every tag named."""
        return [attrs.get("src") or attrs.get("href") for tag, attrs in self.tags if tag in tags]


def shell(page: str) -> Shell:
    parser = Shell()
    parser.feed(page)
    return parser


@pytest.fixture(scope="module")
def static_client(settings: Settings, engine: Engine, queues_ready: None) -> Iterator[TestClient]:
    """One app for the module's reads of static files (they touch no database)."""
    app = create_app(container=build_test_container(settings, FrozenClock(DEFAULT_NOW), engine))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def assert_revalidated_page(client: TestClient, path: str, policy: str) -> httpx.Response:
    """The page at `path`: HTML with `policy` as its CSP and the other security headers,
    revalidated (no-cache and a strong ETag; 304 without a body on If-None-Match, with
    the same ETag and CSP)."""
    r = client.get(path)
    assert r.status_code == 200, path
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-security-policy"] == policy
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["etag"].startswith('"')
    again = client.get(path, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == r.headers["etag"]
    assert again.headers["content-security-policy"] == policy
    return r


def assert_strict_bundle_page(client: TestClient, path: str) -> httpx.Response:
    """A bundle's page (webassets' strict CSP: this origin only, no inline script or
    style, no eval, no framing), revalidated."""
    csp = CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
    return assert_revalidated_page(client, path, csp)


def assert_loads_only_its_own_assets(client: TestClient, page_path: str, bundle: Bundle) -> Shell:
    """The page at `page_path` (ending in /) has no inline code; its scripts are modules
    with a src; every script, style sheet and image is an asset of this build, served;
    its links are its own routes (#/...), no other page or origin."""
    page = shell(client.get(page_path).text)
    assert not page.inline_script and not page.inline_style
    assert page.inline_attributes() == []
    assert all(tag != "style" for tag, _ in page.tags)
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    assert scripts and all(attrs.get("src") and attrs.get("type") == "module" for attrs in scripts)
    urls = page.urls("script", "link", "img")
    assert len(urls) >= 3
    for url in urls:
        assert url is not None and url.startswith(f"assets/{bundle.build}/"), url
        assert client.get(page_path + url).status_code == 200, url
    links = page.urls("a")
    assert links and all(str(href).startswith("#/") for href in links), links
    return page


def assert_no_asset_reaches_another_origin_or_builds_markup(bundle: BuildAssets) -> None:
    """No URL of another origin in any script, style sheet or icon; nothing that builds
    markup from data or runs a string as code."""
    assert len([name for name in bundle.assets if name.endswith(".js")]) >= 10
    for name, file in bundle.assets.items():
        text = file.body.decode().replace(SVG_NS, "")
        assert EXTERNAL.search(text) is None, (name, EXTERNAL.search(text))
        hit = FORBIDDEN.search(text)
        assert hit is None, (name, hit and hit.group(0))


def source_of(name: str, static_dir: Path) -> Path:
    """The file an asset of a bundle of `static_dir` is read from (shared/... from
    webassets' SHARED_DIR)."""
    if name.startswith(SHARED_PREFIX):
        return SHARED_ASSETS / name.removeprefix(SHARED_PREFIX)
    return static_dir / "assets" / name


def assert_assets_served(
    client: TestClient, assets_url: str, static_dir: Path, content_types: dict[str, str]
) -> None:
    """Each asset under `assets_url` ({prefix}/assets/{build}) with its content type and
    the security headers, cached a year, the file's bytes, revalidated by its ETag."""
    for name, content_type in content_types.items():
        r = client.get(f"{assets_url}/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"] == content_type
        assert r.headers["cache-control"] == ASSET_CACHE_CONTROL
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert r.content == source_of(name, static_dir).read_bytes()
        assert client.get(r.url, headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def assert_the_shared_files_are_in_the_bundle(bundle: Bundle) -> None:
    """Every shared module, under shared/ and byte for byte; the shared head in the page
    (its charset, no Referer, the icon, style sheet and entry module of this build)."""
    shared = sorted(p for p in SHARED_ASSETS.rglob("*") if p.is_file())
    assert len(shared) >= 4
    for file in shared:
        name = SHARED_PREFIX + file.relative_to(SHARED_ASSETS).as_posix()
        assert bundle.assets[name].body == file.read_bytes(), name
    page = bundle.page({}).body.decode()
    assert "%HEAD%" not in page
    for tag in (
        '<meta charset="utf-8">',
        '<meta name="referrer" content="no-referrer">',
        f'<script type="module" src="assets/{bundle.build}/app.js"></script>',
    ):
        assert tag in page, tag


def assert_every_module_import_resolves(bundle: BuildAssets, *, at_least: int) -> None:
    """Every import of every module is a relative path to a file of the bundle (nothing
    from a package or a CDN)."""
    imports = 0
    for name, file in bundle.assets.items():
        if not name.endswith(".js"):
            continue
        base = name.rsplit("/", 1)[0].split("/") if "/" in name else []
        for spec in re.findall(r'from "([^"]+)"', file.body.decode()):
            assert spec.startswith("."), (name, spec)
            parts = list(base)
            for piece in spec.split("/"):
                if piece == "..":
                    parts.pop()
                elif piece != ".":
                    parts.append(piece)
            assert "/".join(parts) in bundle.assets, (name, spec)
            imports += 1
    assert imports >= at_least


def assert_not_found(client: TestClient, urls: Iterable[str]) -> None:
    """Each URL is 404 SYS_404 (an unknown file, another build, a way out of the bundle)."""
    for url in urls:
        r = client.get(url)
        assert r.status_code == 404, url
        assert r.json()["error"]["code"] == "SYS_404"


def outside_the_bundle(prefix: str, build: str) -> list[str]:
    """URLs by a bundle's assets (at `{prefix}/assets/{build}`) that are none of them: an
    unknown file, another build, ways out of the directory, the page's file by name."""
    assets = f"{prefix}/assets/{build}"
    return [
        f"{assets}/nope.js",
        f"{prefix}/assets/000000000000/app.js",
        f"{assets}/../index.html",
        f"{assets}/%2e%2e/%2e%2e/router.py",
        f"{assets}/..%2f..%2frouter.py",
        f"{prefix}/index.html",
    ]


def assert_the_same_for_anyone(client: TestClient, path: str, tag: str) -> None:
    """The page is the same bytes for a visitor, a player and an admin, and names none of
    them (`tag` makes their emails)."""
    anonymous = client.get(path)
    player = dev_login(client, f"player.{tag}@example.com")
    admin = dev_login(client, f"admin.{tag}@example.com", role="ADMIN")
    for token in (player["access_token"], admin["access_token"]):
        assert client.get(path, headers=bearer(token)).content == anonymous.content
    assert f"player.{tag}" not in anonymous.text and f"admin.{tag}" not in anonymous.text


def static_routes(app: FastAPI, serves: Callable[[str], bool]) -> dict[str, Any]:
    """The app's routes whose path `serves` picks, by path."""
    return {
        route.path: route
        for route in iter_route_contexts(list(app.routes))
        if route.path is not None and serves(route.path)
    }


def assert_get_only_and_no_database(routes: Iterable[Any]) -> None:
    """The routes answer GET only, have no guard and depend on nothing but the container
    (no session, no service)."""
    for route in routes:
        assert route.methods == {"GET"}, route.path
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
