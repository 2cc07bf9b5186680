"""The console's files, read once from `static/`: each with its content type and a strong
ETag, and a build id (a hash over every file) that versions the asset URLs, so assets are
cached for a year and a deploy is picked up by the next load of the (revalidated) page."""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from myapi.core.config import Settings

STATIC_DIR = Path(__file__).parent / "static"
INDEX = "index.html"
ASSETS_DIR = "assets"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The page may load only its own files and call only its own origin; no inline script or
# style, no plugins, no framing, no <base> rewrite, forms post only to this origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# The page URL carries the OAuth code on the way back from a provider: no Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
INDEX_CACHE_CONTROL = "no-cache"
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
UI_PATH = "/admin/ui/"


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> StaticFile:
        return cls(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')

    def matches(self, if_none_match: str | None) -> bool:
        """Whether a conditional GET's If-None-Match names this version (RFC 9110 weak
        comparison, as a GET allows)."""
        if not if_none_match:
            return False
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or self.etag in tags


@dataclass(frozen=True)
class SignInOptions:
    """How an operator can sign in on this deployment (rendered into the page)."""

    dev_login: bool
    # Provider name (google, kakao) -> the allow-listed redirect URIs that end at the console.
    providers: Mapping[str, list[str]]

    @classmethod
    def of(cls, settings: Settings) -> SignInOptions:
        console = [uri for uri in settings.oauth_redirect_allowlist if urlsplit(uri).path == UI_PATH]
        configured = {"google": settings.google_client_id, "kakao": settings.kakao_client_id}
        return cls(
            dev_login=settings.dev_login_enabled and not settings.is_production,
            providers={name: console for name, client_id in configured.items() if client_id},
        )

    def as_json(self) -> str:
        return json.dumps({"dev_login": self.dev_login, "providers": dict(self.providers)}, sort_keys=True)


@dataclass(frozen=True)
class Bundle:
    build: str
    index_template: str
    assets: Mapping[str, StaticFile]

    def index(self, options: SignInOptions) -> StaticFile:
        page = self.index_template.replace("%BUILD%", self.build).replace(
            "%SIGN_IN%", html.escape(options.as_json(), quote=True)
        )
        return StaticFile.of(page.encode(), CONTENT_TYPES[".html"])

    def asset(self, build: str, path: str) -> StaticFile | None:
        """The asset at `path` of this build; None for another build or an unknown file
        (only the files read at start-up are ever served: no path reaches the disk)."""
        return self.assets.get(path) if build == self.build else None


def load_bundle(directory: Path = STATIC_DIR) -> Bundle:
    digest = hashlib.sha256()
    assets: dict[str, StaticFile] = {}
    root = directory / ASSETS_DIR
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        content_type = CONTENT_TYPES.get(file.suffix)
        if content_type is None:
            raise ValueError(f"{file}: no content type for {file.suffix!r} files")
        body = file.read_bytes()
        name = file.relative_to(root).as_posix()
        assets[name] = StaticFile.of(body, content_type)
        digest.update(name.encode() + b"\0" + body + b"\0")
    template = (directory / INDEX).read_text(encoding="utf-8")
    digest.update(template.encode())
    return Bundle(build=digest.hexdigest()[:12], index_template=template, assets=assets)
