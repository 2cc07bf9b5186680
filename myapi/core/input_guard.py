"""Text input is checked at the edge, before any route, dependency or SQL sees it (pure ASGI).

One rule for every route, today's and tomorrow's, whatever its schema says:

* the path and its parameters, the query string (names and values) and any request
  header carry no control character (C0 U+0000-U+001F, DEL U+007F, C1 U+0080-U+009F;
  a header value may hold a tab);
* a JSON body (whatever its Content-Type says: the vendor webhook parses its raw body
  itself) holds no control character in any string or object key at any depth, except
  tab, line feed and carriage return inside string values (multi-line text), and no
  lone surrogate (`"\\ud800"`: not text; PostgreSQL and UTF-8 cannot store it).

Anything else is a 422 `SYS_422` in the envelope, each offending field named as FastAPI
names a validation error's (`location` body/path/query/header, `field` the dotted path:
`reason`, `prices.0.symbol`, `symbol`, `job`). A NUL byte reaching PostgreSQL was a 500.

The body is read here and replayed to the app message by message, unchanged; a body that
is not JSON (or not valid JSON: the app answers that itself) passes through, as do
multipart bodies, which are not read. The body-size limit runs outside this middleware,
so what is read here is already bounded.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from fastapi.routing import iter_route_contexts
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from myapi.core.asgi import send_error
from myapi.core.errors import validation_details

CODE = "SYS_422"
MESSAGE = "Request validation failed"
# Enough to say what is wrong; a body full of NULs does not make a huge answer.
MAX_REPORTED = 10
# Paths, query strings and keys: no control character and no lone surrogate at all.
_STRICT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Strings in a JSON body: tab, line feed and carriage return are text.
_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Header values are bytes (read as latin-1): RFC 9110 allows a tab, no other C0 control
# nor DEL; bytes 0x80-0xFF are opaque (UTF-8 text arrives as such bytes).
_HEADER = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_MAX_KEY_SHOWN = 64


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs: duplicated keys are all checked."""


def _describe(ch: str) -> tuple[str, str]:
    point = f"U+{ord(ch):04X}"
    if "\ud800" <= ch <= "\udfff":
        return "surrogate_character", f"A lone surrogate ({point}) is not text"
    return "control_character", f"Control characters are not allowed ({point})"


def _shown(part: str) -> str:
    """A name fit to be echoed: offending characters as `\\uXXXX`, at most 64 characters."""
    part = part[:_MAX_KEY_SHOWN]
    return _STRICT.sub(lambda m: f"\\u{ord(m.group()):04x}", part)


def _error(loc: tuple[str | int, ...], found: re.Match[str], *, within: str = "") -> dict[str, Any]:
    kind, message = _describe(found.group())
    return {"loc": loc, "msg": f"{message}{within}", "type": kind}


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


@lru_cache(maxsize=1024)
def _compiled(template: str) -> re.Pattern[str]:
    return compile_path(template)[0]


def _path_errors(scope: Scope, found: re.Match[str]) -> list[dict[str, Any]]:
    """The path parameters holding the offending characters, named by the route the path
    matches (the method's own first); the whole path when it matches none."""
    path = _route_path(scope)
    matched: list[dict[str, str]] = []
    for context in iter_route_contexts(getattr(scope.get("app"), "routes", [])):
        template = context.path
        if not isinstance(template, str) or "{" not in template:
            continue
        match = _compiled(template).match(path)
        if match is None:
            continue
        if scope["method"] in (context.methods or ()):
            matched.insert(0, match.groupdict())
            break
        matched.append(match.groupdict())
    if matched:
        errors = [
            _error(("path", name), bad)
            for name, value in matched[0].items()
            if (bad := _STRICT.search(value)) is not None
        ]
        if errors:
            return errors
    return [_error(("path",), found)]


def _head_errors(scope: Scope) -> list[dict[str, Any]]:
    """What is wrong in the path, the query string and the headers (before any body)."""
    errors: list[dict[str, Any]] = []
    found = _STRICT.search(scope["path"])
    if found is not None:
        errors.extend(_path_errors(scope, found))
    query = scope.get("query_string", b"")
    if query:
        # As Starlette reads it (QueryParams): latin-1, then percent-decoded as UTF-8.
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if (bad := _STRICT.search(name)) is not None:
                errors.append(_error(("query", _shown(name)), bad, within=" in a parameter name"))
            elif (bad := _STRICT.search(value)) is not None:
                errors.append(_error(("query", name), bad))
    for raw_name, raw_value in scope.get("headers", ()):
        if (bad := _HEADER.search(raw_value.decode("latin-1"))) is not None:
            errors.append(_error(("header", _shown(raw_name.decode("latin-1"))), bad))
    return errors[:MAX_REPORTED]


def _strings(document: Any) -> Iterator[tuple[tuple[str | int, ...], str, bool]]:
    """Every key and string of a parsed JSON document, in document order, with its
    location; iterative, so no depth is too deep."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [(("body",), document)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, str):
            yield loc, value, False
        elif isinstance(value, _Pairs):
            children: list[tuple[tuple[str | int, ...], Any]] = []
            for key, child in value:
                yield (*loc, _shown(key)), key, True
                children.append(((*loc, _shown(key)), child))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(((*loc, i), child) for i, child in reversed(list(enumerate(value))))


def body_errors(body: bytes) -> list[dict[str, Any]]:
    """What is wrong in a JSON body; nothing for a body that is not JSON."""
    if not body:
        return []
    try:
        document = json.loads(body, object_pairs_hook=_Pairs)
    except (ValueError, RecursionError):  # not JSON (or not UTF-8): the route answers it
        return []
    errors: list[dict[str, Any]] = []
    for loc, text, is_key in _strings(document):
        bad = (_STRICT if is_key else _TEXT).search(text)
        if bad is not None:
            errors.append(_error(loc, bad, within=" in a key" if is_key else ""))
            if len(errors) == MAX_REPORTED:
                break
    return errors


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def _may_have_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    if length is not None:
        return length.strip() not in (b"", b"0")
    return _header(scope, b"transfer-encoding") is not None


class InputGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        errors = _head_errors(scope)
        if errors:
            await _refuse(send, errors)
            return
        content_type = (_header(scope, b"content-type") or b"").lower()
        if not _may_have_body(scope) or content_type.startswith(b"multipart/"):
            await self.app(scope, receive, send)
            return

        messages: deque[Message] = deque()
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":  # the client left: the app sees it so
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                errors = body_errors(b"".join(chunks))
                break
        if errors:
            await _refuse(send, errors)
            return

        async def replay() -> Message:
            return messages.popleft() if messages else await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, errors: list[dict[str, Any]]) -> None:
    # ASCII JSON: whatever was echoed (a key, a header's name) cannot break the encoding.
    await send_error(send, 422, CODE, MESSAGE, validation_details(errors))
