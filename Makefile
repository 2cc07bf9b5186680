# OX Universe — developer commands. `make run` and `make test` work on a fresh clone
# with only Python 3.11 installed: they create .venv and install what they need.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run demo test lint typecheck pytest install migrate clean browser

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## The whole system on embedded defaults (PostgreSQL, SQS endpoint, API). Ctrl-C stops it.
run: $(STAMP)
	$(PY) -m scripts.run_local

## The whole system on an accelerated clock (a simulated day per minute, a week in 7) with bot
## players, narrated; the player page at http://127.0.0.1:8000/. Ctrl-C stops it.
## DEMO_ARGS passes options, e.g. DEMO_ARGS="--speed 600 --bots 30" (python -m scripts.demo -h).
demo: $(STAMP)
	$(PY) -m scripts.demo $(DEMO_ARGS)

## Lint, type-check and the test suite against real PostgreSQL and a real SQS endpoint.
test: $(STAMP) lint typecheck pytest

## ruff, and the layer contracts (import-linter; pyproject.toml [tool.importlinter]).
lint: $(STAMP)
	$(PY) -m ruff check myapi batch scripts tests alembic
	$(VENV)/bin/lint-imports --no-cache

typecheck: $(STAMP)
	$(PY) -m mypy

pytest: $(STAMP) browser
	$(PY) -m pytest $(PYTEST_ARGS)

## The browser the console's, the player page's and the API docs' tests drive
## (tests/adminui, tests/playerui, tests/apidocs): the distribution's
## Chromium (Playwright's own browser download is not used). Installed with apt when
## missing; where that is impossible, one line says what to install.
browser:
	@test -x "$${CHROMIUM_PATH:-/usr/bin/chromium}" || command -v chromium >/dev/null 2>&1 || \
	  if [ "$$(id -u 2>/dev/null)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) \
	      >/dev/null || { echo "make browser: apt-get install chromium failed" >&2; exit 1; }; \
	  else \
	    echo "make browser: the browser tests need Chromium: install it (apt-get install chromium) or set CHROMIUM_PATH" >&2; \
	    exit 1; \
	  fi

## Apply migrations to DATABASE_URL.
migrate: $(STAMP)
	$(PY) -m alembic upgrade head

clean:
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache
