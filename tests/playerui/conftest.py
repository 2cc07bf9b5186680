"""The player page in a real browser: headless Chromium (the distribution's, driven by
Playwright; tests/support/browser.py) on a phone-sized screen, against the app served by
uvicorn over a pipeline of its own (the test database with real commits, its own
queues). The app's clock is a FrozenClock the tests move; the day's cycle (open,
cutoff, EOD fetch from the sandbox provider, settlement, its follow-up with the
leaderboard) and the reward saga run through the real jobs, relay, queues and workers
(`Game.tick`, `Game.drain`). A fake Google answers the OAuth sign-in.

Screenshots of each main step land in test-artifacts/playerui/ at the repo root
(git-ignored). `static_client` (test_static_files.py's app) is
tests/support/static_pages.py's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.main import create_app
from scripts import devstack
from tests.support.browser import (
    LiveServerOnPort,
    browser,  # noqa: F401 (the module's browser)
    checked_page,
)
from tests.support.fake_oauth import FakeOAuthServer
from tests.support.http_server import running
from tests.support.pipeline import Pipeline, own_pipeline
from tests.support.static_pages import static_client  # noqa: F401 (test_static_files.py's app)

# Monday 2026-11-23 10:00 KST: the trading day is due to open; its cutoff is 23:25 KST.
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "playerui"


@dataclass
class Game:
    url: str
    http: httpx.Client
    pipeline: Pipeline
    google: FakeOAuthServer

    @property
    def clock(self) -> FrozenClock:
        return self.pipeline.clock

    def tick(self) -> list[dict[str, Any]]:
        """The scheduler's tick (whatever of the cycle is due), then the relay and the
        workers until nothing moves: what the cycle's steps asked for is done."""
        actions: list[dict[str, Any]] = self.pipeline.container.jobs().tick().details["actions"]
        self.pipeline.pump(rounds=10)
        return actions

    def drain(self) -> None:
        """The relay and every worker until nothing moves (a redemption's saga)."""
        self.pipeline.pump(rounds=10)

    def login(self, email: str, **extra: str) -> dict[str, str]:
        r = self.http.post("/v1/auth/dev-login", json={"email": email, **extra})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['data']['access_token']}"}

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        r = self.http.get(path, params=params, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()["data"]


@pytest.fixture(scope="module")
def game(settings: Settings) -> Iterator[Game]:
    port = devstack.free_port()
    origin = f"http://127.0.0.1:{port}"
    clock = FrozenClock(START)
    with (
        running(FakeOAuthServer()) as google,
        own_pipeline(
            settings, clock, oauth_redirect_allowlist=[f"{origin}/"], **google.endpoints("google")
        ) as p,
    ):
        app = create_app(container=p.container)
        with LiveServerOnPort(app, port) as live, httpx.Client(base_url=live.url, timeout=30) as http:
            yield Game(live.url, http, p, google)


@pytest.fixture
def page(browser: Browser, game: Game) -> Iterator[Page]:  # noqa: F811 (the imported fixture)
    """A fresh phone-sized browser context (its own sessionStorage); any page error (an
    exception in a module, a CSP violation) fails the test."""
    with checked_page(browser, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True) as tab:
        yield tab


def shot(page: Page, name: str, at: Locator | None = None) -> Path:
    """A PNG of the phone's screen as the player sees it (the page scrolled to the top,
    or to `at`), kept in test-artifacts/playerui/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if at is None:
        page.evaluate("window.scrollTo(0, 0)")
    else:
        at.scroll_into_view_if_needed()
    page.screenshot(path=str(path))
    return path


def sign_in(page: Page, game: Game, email: str, nickname: str | None = None) -> None:
    """The page's dev-login form, as a player fills it."""
    page.goto(f"{game.url}/")
    form = page.locator("form[data-form=dev-login]")
    form.locator("input[name=email]").fill(email)
    if nickname:
        form.locator("input[name=nickname]").fill(nickname)
    form.locator("button[type=submit]").click()
    page.locator("section[data-view=today][data-state=ready]").wait_for()
