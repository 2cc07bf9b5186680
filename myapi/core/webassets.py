"""Static web pages served by the app (the operators' console at /admin/ui/, the player
page at /, the API docs at /docs and /redoc): files read once when the app is built,
each with its content type and a strong ETag, and a build id (a hash over every file)
that versions the asset URLs, so assets are cached for a year and a deploy is picked up
by the next load of the (revalidated) page. Every response carries a CSP: the strict
one below unless a page needs its own (the docs pages).

Layout of a bundle directory: `index.html` (the page: `%HEAD%` is replaced by the shared
head, `%BUILD%` by the build id, `%NAME%` placeholders by the values given at render
time, HTML-escaped) and `assets/**` (scripts, style sheets, icons: only these files are
ever served, by name, so no request path reaches the disk).

What the pages share lives in `webshared/` (SHARED_DIR), laid out the same way:
`head.html`, what every page's <head> holds (the charset, no Referer, the bundle's icon,
style sheet and entry module `app.js`), and `assets/**` (the DOM helpers, the API client,
the sign-in and routing frame), which a bundle loaded with `shared=` serves under
`shared/` among its own files, under its own build id: each page loads only URLs of its
own, so its `script-src 'self'` holds and the pages stay independent."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

from fastapi import APIRouter, Header, Response

from myapi.core.config import Settings
from myapi.core.deps import ContainerDep
from myapi.core.errors import NotFoundError

INDEX = "index.html"
HEAD = "head.html"
ASSETS_DIR = "assets"
SHARED_DIR = Path(__file__).parent / "webshared"
SHARED_PREFIX = "shared/"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# The page may load only its own files and call only its own origin; no inline script or
# style, no plugins, no framing, no <base> rewrite, forms post only to this origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# With the CSP on every response. A page URL carries the OAuth code on the way back from
# a provider: no Referer.
SECURITY_HEADERS = {
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


def content_type(name: str) -> str:
    """The content type of a file by its suffix; a file of another type fails (start-up,
    not a request)."""
    suffix = Path(name).suffix
    found = CONTENT_TYPES.get(suffix)
    if found is None:
        raise ValueError(f"{name}: no content type for {suffix!r} files")
    return found


def build_id(files: Iterable[tuple[str, bytes]]) -> str:
    """A hash over every file's name and body: any change to any file is a new build."""
    digest = hashlib.sha256()
    for name, body in sorted(files):
        digest.update(name.encode() + b"\0" + body + b"\0")
    return digest.hexdigest()[:12]


def serve(
    file: StaticFile, cache_control: str, if_none_match: str | None, policy: str = CONTENT_SECURITY_POLICY
) -> Response:
    """The file with the security headers, `policy` as its CSP, its ETag and
    `cache_control`; 304 (no body) when If-None-Match names this version."""
    headers = {
        **SECURITY_HEADERS,
        "Content-Security-Policy": policy,
        "Cache-Control": cache_control,
        "ETag": file.etag,
    }
    if file.matches(if_none_match):
        return Response(status_code=304, headers=headers)
    return Response(file.body, media_type=file.content_type, headers=headers)


@dataclass(frozen=True)
class BuildAssets:
    """The assets of one build, by path."""

    build: str
    assets: Mapping[str, StaticFile]

    def asset(self, build: str, path: str) -> StaticFile | None:
        """The asset at `path` of this build; None for another build or an unknown file
        (only the files read at start-up are ever served: no path reaches the disk)."""
        return self.assets.get(path) if build == self.build else None


def serve_asset(
    bundle: BuildAssets,
    build: str,
    path: str,
    if_none_match: str | None,
    *,
    what: str,
    policy: str = CONTENT_SECURITY_POLICY,
) -> Response:
    """An asset of `bundle`, cached for a year; 404 SYS_404 ("No such {what}") for
    another build or an unknown file."""
    file = bundle.asset(build, path)
    if file is None:
        raise NotFoundError(f"No such {what}")
    return serve(file, ASSET_CACHE_CONTROL, if_none_match, policy)


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
class Bundle(BuildAssets):
    """A page and its assets (the layout above)."""

    index_template: str

    def page(self, values: Mapping[str, str]) -> StaticFile:
        """The page of this build, each `%NAME%` replaced by `values[NAME]` (escaped for an
        HTML attribute: a value never becomes markup)."""
        page = self.index_template.replace("%BUILD%", self.build)
        for name, value in values.items():
            page = page.replace(f"%{name}%", html.escape(value, quote=True))
        return StaticFile.of(page.encode(), CONTENT_TYPES[".html"])


def _read_assets(root: Path, prefix: str = "") -> dict[str, StaticFile]:
    """Every file under `root`, by `prefix` + its path below `root`."""
    return {
        prefix + file.relative_to(root).as_posix(): StaticFile.of(file.read_bytes(), content_type(str(file)))
        for file in sorted(p for p in root.rglob("*") if p.is_file())
    }


_HEAD_LINE = re.compile(r"^([ \t]*)%HEAD%[ \t]*$", re.MULTILINE)


def _with_head(template: str, head: str, page: Path) -> str:
    """The page with its `%HEAD%` line replaced by the shared head, at its indentation."""
    if len(_HEAD_LINE.findall(template)) != 1:
        raise ValueError(f"{page}: needs one %HEAD% line, for the shared head")
    return _HEAD_LINE.sub(
        lambda line: "\n".join(line.group(1) + text for text in head.strip().splitlines()), template
    )


def load_bundle(directory: Path, shared: Path | None = None) -> Bundle:
    """Read `directory`'s page and every file under its `assets/` and, with `shared` (a
    directory laid out as SHARED_DIR), the shared head into the page and the shared
    assets under `shared/`. An asset of a type without a content type, or a page's own
    file under `shared/`, fails (start-up, not a request)."""
    assets = _read_assets(directory / ASSETS_DIR)
    template = (directory / INDEX).read_text(encoding="utf-8")
    if shared is not None:
        clash = sorted(name for name in assets if name.startswith(SHARED_PREFIX))
        if clash:
            raise ValueError(f"{directory}: {SHARED_PREFIX} holds the shared files, not {clash}")
        assets.update(_read_assets(shared / ASSETS_DIR, SHARED_PREFIX))
        template = _with_head(template, (shared / HEAD).read_text(encoding="utf-8"), directory / INDEX)
    files = [(name, file.body) for name, file in assets.items()] + [(INDEX, template.encode())]
    return Bundle(build=build_id(files), assets=assets, index_template=template)


def add_page_routes(
    router: APIRouter, bundle: Bundle, *, name: str, values: Callable[[Settings], Mapping[str, str]]
) -> None:
    """Serve `bundle` at `router`'s prefix: GET `/`, the page with `values(settings)`
    rendered in (revalidated: no-cache and its ETag), and GET `/assets/{build}/{path}`,
    the assets of this build (cached a year; any other build or file is 404 SYS_404).
    The routes are `{name}_page` and `{name}_asset`; they hold no data and touch no
    database."""

    def page(container: ContainerDep, if_none_match: IfNoneMatch = None) -> Response:
        return serve(bundle.page(values(container.settings())), INDEX_CACHE_CONTROL, if_none_match)

    def asset(build: str, path: str, if_none_match: IfNoneMatch = None) -> Response:
        return serve_asset(bundle, build, path, if_none_match, what=f"{name} asset")

    router.add_api_route("/", page, methods=["GET"], name=f"{name}_page", summary=f"The {name} page")
    router.add_api_route(
        "/assets/{build}/{path:path}",
        asset,
        methods=["GET"],
        name=f"{name}_asset",
        summary="A script, style sheet or icon of one build",
    )
