"""The console in a real browser: headless Chromium (the distribution's, driven by
Playwright) against the app served by uvicorn on the test database, with a settled week
seeded once for the module, its own queues (a unique prefix, so the DLQ tests see only
their own messages) and a fake Google (the provider's consent page is answered by the
browser's request routing, its token and userinfo endpoints by a loopback fake).

The browser, the page with its error collector and the checks of the sign-in's session
are tests/support/browser.py's (shared with tests/playerui): without Chromium these tests
fail with one line saying what to install. `static_client` (test_static_files.py's app)
is tests/support/static_pages.py's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine

from myapi.container import Container
from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.core.db import make_engine
from myapi.main import create_app
from myapi.providers.queue import ensure_queues, make_sqs_client
from scripts import devstack
from tests.adminui.seed import SeededDay, seed_week
from tests.support.app import build_test_container, make_settings
from tests.support.browser import (
    LiveServerOnPort,
    browser,  # noqa: F401 (the module's browser)
    checked_page,
)
from tests.support.db import truncate_all
from tests.support.fake_oauth import FakeOAuthServer
from tests.support.http_server import running
from tests.support.static_pages import static_client  # noqa: F401 (test_static_files.py's app)

# Monday 2026-11-23 10:00 KST, after the seeded week: the clock the app runs on.
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@dataclass
class Console:
    url: str
    http: httpx.Client
    settings: Settings
    container: Container
    engine: Engine
    clock: FrozenClock
    week: list[SeededDay]
    google: FakeOAuthServer

    def admin_token(self, email: str = "ops.api@example.com") -> dict[str, str]:
        r = self.http.post("/v1/auth/dev-login", json={"email": email, "role": "ADMIN"})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['data']['access_token']}"}

    def api(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params, headers=self.admin_token())
        assert r.status_code == 200, r.text
        return r.json()["data"]


@pytest.fixture(scope="module")
def console(database_url: str, sqs_endpoint: str) -> Iterator[Console]:
    port = devstack.free_port()
    origin = f"http://127.0.0.1:{port}"
    with running(FakeOAuthServer()) as google:
        settings = make_settings(
            database_url,
            sqs_endpoint,
            queue_prefix=f"ui{uuid.uuid4().hex[:8]}-",
            oauth_redirect_allowlist=[f"{origin}/admin/ui/"],
            **google.endpoints("google"),
        )
        ensure_queues(make_sqs_client(settings), settings)
        engine = make_engine(settings)
        clock = FrozenClock(NOW)
        container = build_test_container(settings, clock, engine)
        try:
            week = seed_week(container, clock)
            clock.set(NOW)
            app = create_app(container=container)
            with LiveServerOnPort(app, port) as live, httpx.Client(base_url=live.url, timeout=30) as http:
                yield Console(live.url, http, settings, container, engine, clock, week, google)
        finally:
            container.oauth_http().close()
            container.eod_http().close()
            truncate_all(engine)
            engine.dispose()


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:  # noqa: F811 (the imported fixture)
    """A fresh browser context (its own sessionStorage) on the console; any page error
    (an exception in a module, a CSP violation) fails the test."""
    with checked_page(browser, viewport={"width": 1280, "height": 900}) as tab:
        yield tab


def sign_in(page: Page, console: Console, email: str, role: str = "ADMIN") -> None:
    """The dev-login form of the page, as an operator fills it."""
    page.goto(f"{console.url}/admin/ui/")
    form = page.locator("form[data-form=dev-login]")
    form.locator("input[name=email]").fill(email)
    form.locator("select[name=role]").select_option(role)
    form.locator("button[type=submit]").click()
