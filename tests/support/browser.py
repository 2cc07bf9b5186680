"""The browser of the browser tests (tests/adminui, tests/playerui, tests/apidocs): the
distribution's headless Chromium driven by Playwright (never Playwright's own download),
a page in a fresh context with a collector of what it reports as broken (an exception in
a module, a CSP violation), which fails the test; the app served on a port known
beforehand; and the checks of a signed-in page's session that the console and the
player page share (shared/api.js's one refresh, then the sign-out).

`make test` installs Chromium (the Makefile's `browser` step); without it these tests
fail with one line saying what to install, they are never skipped."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect, sync_playwright

from tests.support.fake_oauth import FakeOAuthServer
from tests.support.live_server import LiveServer

# The distribution's Chromium (`make browser` installs it); CHROMIUM_PATH names another.
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-background-networking"]


# One browser for the module of browser tests. Not for the session: while Playwright's
# sync API is started, the main thread has a running asyncio loop, so any later test
# calling asyncio.run() there would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is not installed ({CHROMIUM}): run `make browser` or `apt-get install chromium`",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        yield playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)


def page_problems(page: Page) -> list[str]:
    """A list that fills with the page's errors from now on: uncaught exceptions and
    console errors (a CSP refusal is one), except Chromium's line for a response with a
    4xx status (the API's refusals the page shows are expected)."""
    problems: list[str] = []

    def console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and "status of 4" not in msg.text:
            problems.append(f"console {msg.type}: {msg.text}")

    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", console)
    return problems


@contextmanager
def checked_page(browser: Browser, **context: Any) -> Iterator[Page]:
    """A page in a fresh browser context (its own sessionStorage; `context` is
    Browser.new_context's options); any page error (an exception in a module, a CSP
    violation) fails the test once it is done."""
    tabs = browser.new_context(**context)
    tabs.set_default_timeout(10_000)
    tab = tabs.new_page()
    problems = page_problems(tab)
    try:
        yield tab
    finally:
        tabs.close()
    assert problems == []


def consent_at_google(page: Page, google: FakeOAuthServer, userinfo: dict[str, Any]) -> None:
    """The fake Google's consent page (its authorize URL, `google.endpoints("google")`),
    answered by the page's request routing: the user (`userinfo`) agrees, and the browser
    goes back to the redirect URI with a code bound to the PKCE challenge, and the state."""

    def consent(route: Route) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(route.request.url).query).items()}
        code = google.issue_code("google", query["code_challenge"], query["redirect_uri"], userinfo)
        back = f"{query['redirect_uri']}?code={code}&state={query['state']}"
        route.fulfill(status=302, headers={"Location": back})

    page.route(re.compile(r"^https://accounts\.google\.example/.*"), consent)


def _storage(page: Page, key: str) -> Any:
    return page.evaluate("(key) => sessionStorage.getItem(key)", key)


def assert_one_refresh_then_sign_out_revokes(
    page: Page, http: httpx.Client, *, prefix: str, url: str, view: str
) -> None:
    """On a signed-in page whose tokens are kept under `prefix` (oxu.admin, oxu.player):
    with a stale access token, opening `url` shows `view` with a renewed token (one
    refresh); "Sign out" then clears the tab, hides the tabs and revokes the refresh
    token (it renews nothing any more)."""
    first = _storage(page, f"{prefix}.access")
    page.evaluate("(key) => sessionStorage.setItem(key, 'not-a-token')", f"{prefix}.access")
    page.goto(url)
    page.locator(f"section[data-view={view}][data-state=ready]").wait_for()
    assert _storage(page, f"{prefix}.access") not in (first, "not-a-token")
    refresh = _storage(page, f"{prefix}.refresh")

    page.locator("#sign-out").click()
    page.locator("section[data-view=sign-in]").wait_for()
    expect(page.locator(".notice")).to_have_text("Signed out.")
    assert page.evaluate("Object.keys(sessionStorage)") == []
    assert page.locator("#tabs").is_hidden()
    r = http.post("/v1/auth/token/refresh", json={"refresh_token": refresh})
    assert r.status_code == 401 and r.json()["error"]["code"] == "AUTH_002", r.text


def assert_an_unusable_session_signs_out(page: Page, *, prefix: str, page_url: str, url: str) -> None:
    """A 401 whose one refresh fails too (both tokens under `prefix` are bad): opening
    `url` goes back to the sign-in with the reason, the tab's storage empty."""
    page.goto(page_url)
    for key in (f"{prefix}.access", f"{prefix}.refresh"):
        page.evaluate("(key) => sessionStorage.setItem(key, 'bad')", key)
    page.goto(url)
    page.locator("section[data-view=sign-in]").wait_for()
    expect(page.locator(".notice")).to_have_text("Your session has ended; sign in again.")
    assert page.evaluate("Object.keys(sessionStorage)") == []


class LiveServerOnPort(LiveServer):
    """LiveServer on a port chosen beforehand: an allow-listed OAuth redirect URI (in the
    app's settings, before the app exists) names it."""

    def __init__(self, app: FastAPI, port: int) -> None:
        self.port = port
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
