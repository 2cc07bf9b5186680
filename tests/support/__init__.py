"""What the tests share, in one place (the fixtures themselves live in tests/conftest.py,
but for `browser` and `static_client`, which the suites that use them import).

* `app`: settings and containers for the app under test.
* `browser`: the browser tests' Chromium, a checked page (its errors fail the test), the
  app on a port known beforehand, the checks of a signed-in page's session.
* `days`: the default test day and its instants.
* `db`: reading and resetting the test database.
* `factories`: put the database in the state a test needs.
* `fake_oauth`: a local Google/Kakao.
* `http`: dev login, bearer and internal-token headers, error codes.
* `live_server`: the app served by uvicorn on a loopback port.
* `pipeline`: the `pipeline` fixture (own queues, real commits) and its helpers.
* `production`: settings a production deployment accepts.
* `routes`: routes that exist only in tests.
* `slots`: ad receipts and slot-status helpers of the slot tests.
* `static_pages`: the static pages' checks over HTTP (the console, the player page, the
  API docs) and their `static_client` app.
* `tokens`: hand-made access-token claims, for tests that sign their own tokens.
"""
