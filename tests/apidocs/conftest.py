"""The fixtures of tests/apidocs from tests/support: `static_client`, one app for a
module's reads of static files (tests/support/static_pages.py), and `browser`, the
distribution's Chromium (tests/support/browser.py)."""

from __future__ import annotations

from tests.support.browser import browser  # noqa: F401 (test_docs_browser.py's browser)
from tests.support.static_pages import static_client  # noqa: F401 (test_docs_pages.py's app)
