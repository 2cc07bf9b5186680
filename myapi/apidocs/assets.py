"""The files of the API docs pages, read once when the app is built, never from a request
path: Swagger UI and ReDoc from the pinned `fastapi-offline` wheel (requirements.txt;
it ships swagger-ui-dist's bundle and style sheet and ReDoc's standalone bundle, so no
page needs a CDN), and the pages' own files from `static/`.

Every asset URL carries a build id (a hash over every file), so assets are cached for a
year and an upgrade of the wheel is picked up by the next load of the page."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
# The vendored builds: swagger-ui-dist 5.32.6 (Apache-2.0) and redoc 2.5.3 (MIT), as
# fastapi-offline 1.7.7 ships them; the license headers are inside the bundles.
VENDOR_PACKAGE = "fastapi_offline"
VENDOR_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
OWN_FILES = ("swagger-init.js", "docs.css")
PAGES = ("swagger.html", "redoc.html")
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".html": "text/html; charset=utf-8",
}
DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
ASSETS_PATH = "/docs/assets"
# Scripts, style sheets, fonts and the document only from this origin; no inline script.
# Images also as data: URLs (Swagger UI's icons are inlined in its style sheet). ReDoc
# styles itself with styled-components, which writes <style> elements at run time: the
# ReDoc page alone allows inline style (never inline script), and its search runs in a
# web worker built from a blob: URL.
_BASE_POLICY = (
    "default-src 'none'; script-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)
SWAGGER_POLICY = f"{_BASE_POLICY}; style-src 'self'"
REDOC_POLICY = f"{_BASE_POLICY}; style-src 'self' 'unsafe-inline'; worker-src blob:"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
PAGE_CACHE_CONTROL = "no-cache"
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> StaticFile:
        return cls(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')

    def matches(self, if_none_match: str | None) -> bool:
        """Whether a conditional GET's If-None-Match names this version (weak comparison)."""
        if not if_none_match:
            return False
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or self.etag in tags


@dataclass(frozen=True)
class DocsBundle:
    build: str
    pages: Mapping[str, str]
    assets: Mapping[str, StaticFile]

    def page(self, name: str, *, title: str, openapi_url: str, root_path: str) -> StaticFile:
        """A docs page naming the document and this build's assets (all under root_path)."""
        text = (
            self.pages[name]
            .replace("%TITLE%", html.escape(title))
            .replace("%OPENAPI_URL%", html.escape(root_path + openapi_url, quote=True))
            .replace("%ASSETS%", html.escape(f"{root_path}{ASSETS_PATH}/{self.build}", quote=True))
        )
        return StaticFile.of(text.encode(), CONTENT_TYPES[".html"])

    def asset(self, build: str, name: str) -> StaticFile | None:
        """The asset `name` of this build; None for another build or an unknown name."""
        return self.assets.get(name) if build == self.build else None


def _content_type(name: str) -> str:
    content_type = CONTENT_TYPES.get(Path(name).suffix)
    if content_type is None:
        raise ValueError(f"{name}: no content type for its suffix")
    return content_type


def load_docs_bundle(static_dir: Path = STATIC_DIR) -> DocsBundle:
    """Every file the pages use; a missing one fails start-up, not a page load."""
    vendor = resources.files(VENDOR_PACKAGE).joinpath("static")
    bodies = {name: vendor.joinpath(name).read_bytes() for name in VENDOR_FILES}
    bodies.update({name: (static_dir / name).read_bytes() for name in OWN_FILES})
    pages = {name: (static_dir / name).read_text(encoding="utf-8") for name in PAGES}
    digest = hashlib.sha256()
    for name, body in sorted(bodies.items()):
        digest.update(name.encode() + b"\0" + body + b"\0")
    for name, text in sorted(pages.items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    assets = {name: StaticFile.of(body, _content_type(name)) for name, body in bodies.items()}
    return DocsBundle(build=digest.hexdigest()[:12], pages=pages, assets=assets)
