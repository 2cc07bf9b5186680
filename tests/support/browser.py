"""The browser of the browser tests (tests/adminui, tests/playerui): the distribution's
headless Chromium driven by Playwright (never Playwright's own download), and a
collector of what a page reports as broken (an exception in a module, a CSP
violation), which fails the test; and the app served on a port known beforehand.

`make test` installs Chromium (the Makefile's `browser` step); without it these tests
fail with one line saying what to install, they are never skipped."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

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


class LiveServerOnPort(LiveServer):
    """LiveServer on a port chosen beforehand: an allow-listed OAuth redirect URI (in the
    app's settings, before the app exists) names it."""

    def __init__(self, app: FastAPI, port: int) -> None:
        self.port = port
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
