# syntax=docker/dockerfile:1
#
# OX Universe image: one image for every process.
#
#   API (default CMD)  uvicorn --factory myapi.main:create_app --host 0.0.0.0 --port 8000 --no-server-header
#   migrations         alembic upgrade head          (one-off task before the API starts)
#   queues             python -m batch.queues ensure (one-off; in AWS, infra/terraform owns them)
#   worker             python -m batch.worker --queue eod_fetch
#   outbox relay       python -m batch.outbox_relay
#   scheduler          python -m batch.scheduler     (locally; EventBridge Scheduler in AWS)
#
# Migrations are NOT run when the API starts: run `alembic upgrade head` as a one-off task
# (ECS run-task, a Kubernetes Job, ...) with the same image and DATABASE_URL, then roll the
# API. docker-compose.yaml does exactly that with its `migrate` service.
#
# Build: docker build -t oxuniverse .

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: a virtualenv with the pinned runtime dependencies ---------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH="/opt/venv/bin:${PATH}"

# A compiler only for the odd dependency published without a wheel for this platform;
# it stays in this stage and never reaches the final image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv "${VIRTUAL_ENV}"

COPY requirements.txt /tmp/requirements.txt
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --upgrade pip \
    && pip install -r /tmp/requirements.txt

# --- runtime: slim, non-root --------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH="/opt/venv/bin:${PATH}"

RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app

WORKDIR /app

# Same base image in both stages, so the venv's interpreter path is valid here.
COPY --from=builder /opt/venv /opt/venv

# Application code, owned by root and read-only for the app user.
COPY alembic.ini ./
COPY alembic/ ./alembic/
COPY myapi/ ./myapi/
COPY batch/ ./batch/
COPY scripts/ ./scripts/

# Byte-compile at build time (PYTHONDONTWRITEBYTECODE only stops writes at run time), and
# give the app user the one directory it writes: .local/ holds the development JWT key
# pair generated outside production when JWT_PRIVATE_KEYS is empty (myapi/auth/keys.py).
RUN python -m compileall -q alembic myapi batch scripts \
    && mkdir -p /app/.local \
    && chown app:app /app/.local

USER 10001:10001

EXPOSE 8000

# Liveness only (GET /health); readiness (DB + queue) is GET /ready. Slim has no curl,
# so the probe is Python's urllib: any non-2xx or connection error exits non-zero.
# Containers of this image that serve no HTTP (worker, scheduler, migrate) disable it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

# --no-server-header: no `server: uvicorn` banner on the answers.
CMD ["uvicorn", "--factory", "myapi.main:create_app", "--host", "0.0.0.0", "--port", "8000", "--no-server-header"]
