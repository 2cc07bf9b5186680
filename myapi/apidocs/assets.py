"""The files of the API docs pages, read once when the app is built, never from a request
path: Swagger UI and ReDoc from the pinned `fastapi-offline` wheel (requirements.txt;
it ships swagger-ui-dist's bundle and style sheet and ReDoc's standalone bundle, so no
page needs a CDN), and the pages' own files from `static/`.

Every asset URL carries a build id (a hash over every file), so assets are cached for a
year and an upgrade of the wheel is picked up by the next load of the page. The files,
their ETags, build id and headers are myapi/core/webassets.py's, as for the console and
the player page; the docs pages have a CSP of their own (below)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from myapi.core.webassets import CONTENT_TYPES, BuildAssets, StaticFile, build_id, content_type

STATIC_DIR = Path(__file__).parent / "static"
# The vendored builds: swagger-ui-dist 5.32.6 (Apache-2.0) and redoc 2.5.3 (MIT), as
# fastapi-offline 1.7.7 ships them; the license headers are inside the bundles.
VENDOR_PACKAGE = "fastapi_offline"
VENDOR_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
OWN_FILES = ("swagger-init.js", "docs.css")
PAGES = ("swagger.html", "redoc.html")
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
# The assets' own (a CSP governs a document, not the script or style sheet a page loads;
# like every static response, they carry one all the same): the stricter of the two.
ASSET_POLICY = SWAGGER_POLICY


@dataclass(frozen=True)
class DocsBundle(BuildAssets):
    """The two pages' templates and their assets, by file name."""

    pages: Mapping[str, str]

    def page(self, name: str, *, title: str, openapi_url: str, root_path: str) -> StaticFile:
        """A docs page naming the document and this build's assets (all under root_path)."""
        text = (
            self.pages[name]
            .replace("%TITLE%", html.escape(title))
            .replace("%OPENAPI_URL%", html.escape(root_path + openapi_url, quote=True))
            .replace("%ASSETS%", html.escape(f"{root_path}{ASSETS_PATH}/{self.build}", quote=True))
        )
        return StaticFile.of(text.encode(), CONTENT_TYPES[".html"])


def load_docs_bundle(static_dir: Path = STATIC_DIR) -> DocsBundle:
    """Every file the pages use; a missing one fails start-up, not a page load."""
    vendor = resources.files(VENDOR_PACKAGE).joinpath("static")
    bodies = {name: vendor.joinpath(name).read_bytes() for name in VENDOR_FILES}
    bodies.update({name: (static_dir / name).read_bytes() for name in OWN_FILES})
    pages = {name: (static_dir / name).read_text(encoding="utf-8") for name in PAGES}
    build = build_id([*bodies.items(), *((name, text.encode()) for name, text in pages.items())])
    assets = {name: StaticFile.of(body, content_type(name)) for name, body in bodies.items()}
    return DocsBundle(build=build, assets=assets, pages=pages)
