"""Static web pages served by the app (the operators' console at /admin/ui/, the player
page at /): a bundle of files read once from a package's `static/` directory, each with
its content type and a strong ETag, and a build id (a hash over every file) that
versions the asset URLs, so assets are cached for a year and a deploy is picked up by
the next load of the (revalidated) page. Every response carries a strict CSP.

Layout of a bundle directory: `index.html` (the page: `%BUILD%` is replaced by the build
id, `%NAME%` placeholders by the values given at render time, HTML-escaped) and
`assets/**` (scripts, style sheets, icons: only these files are ever served, by name,
so no request path reaches the disk)."""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

from fastapi import Header, Response

from myapi.core.config import Settings

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

# A conditional GET's validator (a route's parameter: `if_none_match: IfNoneMatch = None`).
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match")]


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


def serve(file: StaticFile, cache_control: str, if_none_match: str | None) -> Response:
    """The file with the security headers, its ETag and `cache_control`; 304 (no body)
    when If-None-Match names this version."""
    headers = {**SECURITY_HEADERS, "Cache-Control": cache_control, "ETag": file.etag}
    if file.matches(if_none_match):
        return Response(status_code=304, headers=headers)
    return Response(file.body, media_type=file.content_type, headers=headers)


@dataclass(frozen=True)
class SignInOptions:
    """How someone can sign in on this deployment, from a page at `page_path` (rendered
    into the page): dev login where it is enabled and not in production; each OAuth
    provider whose client is configured, with the allow-listed redirect URIs that end at
    the page (a provider sends the browser back there)."""

    dev_login: bool
    # Provider name (google, kakao) -> the allow-listed redirect URIs that end at the page.
    providers: Mapping[str, list[str]]

    @classmethod
    def for_page(cls, settings: Settings, page_path: str) -> Self:
        back_here = [uri for uri in settings.oauth_redirect_allowlist if urlsplit(uri).path == page_path]
        configured = {"google": settings.google_client_id, "kakao": settings.kakao_client_id}
        return cls(
            dev_login=settings.dev_login_enabled and not settings.is_production,
            providers={name: back_here for name, client_id in configured.items() if client_id},
        )

    def as_dict(self) -> dict[str, Any]:
        return {"dev_login": self.dev_login, "providers": dict(self.providers)}

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)


@dataclass(frozen=True)
class Bundle:
    build: str
    index_template: str
    assets: Mapping[str, StaticFile]

    def page(self, values: Mapping[str, str]) -> StaticFile:
        """The page of this build, each `%NAME%` replaced by `values[NAME]` (escaped for an
        HTML attribute: a value never becomes markup)."""
        page = self.index_template.replace("%BUILD%", self.build)
        for name, value in values.items():
            page = page.replace(f"%{name}%", html.escape(value, quote=True))
        return StaticFile.of(page.encode(), CONTENT_TYPES[".html"])

    def asset(self, build: str, path: str) -> StaticFile | None:
        """The asset at `path` of this build; None for another build or an unknown file
        (only the files read at start-up are ever served: no path reaches the disk)."""
        return self.assets.get(path) if build == self.build else None


def load_bundle(directory: Path) -> Bundle:
    """Read `directory`'s page and every file under its `assets/`; an asset of a type
    without a content type fails (start-up, not a request)."""
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
