"""/docs and /redoc in a real browser (the distribution's Chromium, driven by Playwright)
against the app served by uvicorn: both render the whole document with nothing but the
app's own files — no request leaves the origin, and the CSP blocks nothing the pages need.

The browser is tests/support/browser.py's (conftest.py): `make test` installs Chromium
(the Makefile's `browser` step); without it these tests fail with one line saying what to
install, they are never skipped. Screenshots of both pages land in test-artifacts/apidocs/
at the repo root."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route
from sqlalchemy import Engine

from myapi.core.clock import FrozenClock
from myapi.core.config import Settings
from myapi.main import create_app
from tests.support.app import build_test_container
from tests.support.days import DEFAULT_NOW
from tests.support.live_server import LiveServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "apidocs"
# Reports every CSP violation of the page to the console, where the test collects it.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) =>
  console.error(`CSP ${e.effectiveDirective} ${e.blockedURI}`));
"""


@pytest.fixture(scope="module")
def server(settings: Settings, engine: Engine, queues_ready: None) -> Iterator[str]:
    app = create_app(container=build_test_container(settings, FrozenClock(DEFAULT_NOW), engine))
    with LiveServer(app) as live:
        yield live.url


@dataclass
class Visit:
    page: Page
    origin: str
    # Requests that tried to leave the origin (aborted), and other problems of the page.
    left_origin: list[str] = field(default_factory=list)
    violations: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    served: list[str] = field(default_factory=list)


@pytest.fixture
def visit(browser: Browser, server: str) -> Iterator[Visit]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    seen = Visit(page, server)

    def same_origin(url: str) -> bool:
        return url.startswith(("blob:", "data:")) or urlsplit(url)[:2] == urlsplit(server)[:2]

    def guard(route: Route) -> None:
        if same_origin(route.request.url):
            route.continue_()
        else:
            seen.left_origin.append(route.request.url)
            route.abort()

    def on_console(text: str, kind: str) -> None:
        if text.startswith("CSP "):
            directive, _, blocked = text.removeprefix("CSP ").partition(" ")
            seen.violations.append((directive, blocked))
        elif kind == "error" and "Content Security Policy" not in text:  # reported as a violation
            seen.errors.append(text)

    context.route("**/*", guard)
    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda msg: on_console(msg.text, msg.type))
    page.on("pageerror", lambda error: seen.errors.append(f"page error: {error}"))
    page.on("requestfinished", lambda request: seen.served.append(request.url))
    yield seen
    context.close()


def _only_blocked_offsite_images(visit: Visit) -> None:
    """What the CSP refused may only be an image of another origin (ReDoc's attribution
    logo, which then hides itself): never a script, a style, a worker or a call."""
    for directive, blocked in visit.violations:
        assert directive == "img-src" and urlsplit(blocked).scheme == "https", (directive, blocked)


def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def test_swagger_ui_renders_every_operation_offline(visit: Visit) -> None:
    page = visit.page
    page.goto(visit.origin + "/docs")
    page.locator("#operations-predictions-predictions_submit").wait_for()
    assert page.locator(".opblock").count() >= 80
    # The operation ids and the schemes are what a client generator reads: Swagger shows both.
    assert page.locator("#operations-admin-admin_user_search").is_visible()
    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".dialog-ux")
    dialog.wait_for()
    for scheme in ("HTTPBearer", "InternalToken", "VendorSignature"):
        assert scheme in dialog.inner_text(), scheme
    _screenshot(page, "swagger-ui-authorize.png")
    assert visit.left_origin == [] and visit.violations == [] and visit.errors == []
    assert any(url.endswith("/openapi.json") for url in visit.served)


def test_swagger_ui_tries_an_operation_on_its_own_origin(visit: Visit) -> None:
    page = visit.page
    page.goto(visit.origin + "/docs")
    block = page.locator("#operations-operations-operations_health")
    block.locator(".opblock-summary-control").click()
    block.get_by_role("button", name="Try it out").click()
    with page.expect_response(lambda r: r.url == visit.origin + "/health") as answer:
        block.get_by_role("button", name="Execute").click()
    assert answer.value.status == 200
    assert visit.left_origin == [] and visit.violations == [] and visit.errors == []


def test_redoc_renders_the_document_offline(visit: Visit) -> None:
    page = visit.page
    page.goto(visit.origin + "/redoc")
    page.get_by_role("heading", name="Predict UP or DOWN for a symbol of today's universe").wait_for()
    page.get_by_text("VendorSignature").first.wait_for(state="attached")
    # The search runs in ReDoc's web worker (a blob: of its own script).
    page.get_by_placeholder("Search...").fill("leaderboard")
    results = page.locator("[data-role='search:results']")
    results.get_by_text("The leaderboard of a period").wait_for()
    _screenshot(page, "redoc-search.png")
    _only_blocked_offsite_images(visit)
    assert visit.left_origin == [] and visit.errors == []
    assert any(url.endswith("/openapi.json") for url in visit.served)
