# chanwatch container image.
#
#   docker compose build
#   docker compose run --rm chanwatch login    # once: creates the user session in /data
#   docker compose up -d                       # the service (CMD "run")
#
# Two stages: the builder makes a virtualenv with the dependencies and the project's own wheel;
# the runtime stage copies only that venv onto a clean slim base and runs it as a non-root user.
# Nothing secret is baked in: configuration comes from the environment (.env via compose) and
# all state (database, session files, backups, heartbeat) lives in the /data volume.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

# PIP_USE_PEP517: sdist-only dependencies (pyaes) build the same way with old and new pip.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_USE_PEP517=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, read from pyproject.toml, in their own layer: editing bot/ does not
# reinstall them. (Every runtime dependency installs from a wheel: no compiler is needed.) The `web`
# extra (Datasette) is included, so the image serves `chanwatch web` too:
#   docker compose run --rm -p 8001:8001 -e WEB_PASSWORD=... chanwatch web --host 0.0.0.0
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['web']))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

# The project itself, as a regular (non-editable) wheel install; hatchling force-includes
# migrations/ into it as bot/migrations. --no-deps: everything is already in the layer above,
# so a dependency missing there fails here instead of being fetched silently. pip and setuptools
# are then removed from the venv: nothing needs them at run time.
COPY README.md ./
COPY migrations/ migrations/
COPY bot/ bot/
RUN pip install --no-deps . \
 && pip check \
 && pip uninstall -y pip setuptools

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="chanwatch" \
      org.opencontainers.image.description="Self-hosted Telegram channel monitor with keyword alerts" \
      org.opencontainers.image.licenses="MIT"

ARG APP_UID=10001
ARG APP_GID=10001

# Non-root user whose home is the data volume. /data is created and chowned before the VOLUME
# line, so a fresh named volume starts out owned by chanwatch (mode 0700: it holds the
# Telegram session).
# tesseract with Russian, Ukrainian (and its default English) data, for OCR=rus+ukr+eng; about
# 40 MB. Off unless OCR is set (bot/media/ocr.py).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        tesseract-ocr tesseract-ocr-rus tesseract-ocr-ukr \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid "${APP_GID}" chanwatch \
 && useradd --uid "${APP_UID}" --gid chanwatch --home-dir /data --no-create-home --no-log-init \
        --shell /usr/sbin/nologin chanwatch \
 && mkdir -p /data \
 && chown chanwatch:chanwatch /data \
 && chmod 0700 /data

COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    DATA_DIR=/data \
    HOME=/data \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

VOLUME ["/data"]
WORKDIR /data
USER chanwatch:chanwatch

# chanwatch runs as PID 1 (exec form, no shell, no init): it must handle SIGTERM itself and
# finish well inside Docker's default 10 s stop timeout.
STOPSIGNAL SIGTERM

# `chanwatch health` exits 0 only while the service's heartbeat file in DATA_DIR is fresh.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["chanwatch", "health"]

ENTRYPOINT ["chanwatch"]
CMD ["run"]
