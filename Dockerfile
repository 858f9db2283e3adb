# One image, every role: the launcher `bazaar` is the entrypoint and the role is the command
# (`web` by default; `worker NAME`, `beat`, `exporter`, `migrate`, ... see docs/runtime-contract.md).
#
#   docker build -t bazaar/bazaar .                 # production image (last stage)
#   docker build -t bazaar/bazaar:dev --target dev . # skaffold file-sync image
#
# The production stage runs as UID 10001 with a read-only root filesystem; the only writable
# paths are /tmp, /run/prometheus and /app/media, which the chart mounts as emptyDirs.

# The upstream images users build on, pinned here; the tests build this same file on local
# twins of them (tools/image: --build-arg PYTHON_IMAGE=... UV_IMAGE=...).
# checkov:skip=CKV_DOCKER_7: both FROM images are these pinned build arguments
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_SYSTEM_CERTS=1
RUN groupadd --system --gid 10001 bazaar \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin bazaar

# Dependencies first, from the lockfile only, so source edits do not invalidate this layer.
FROM base AS builder
COPY --from=uv /uv /usr/local/bin/uv
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project
COPY app ./app
# Non-editable: the venv must not point back into /src, which the runtime stage does not have.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable
WORKDIR /app
RUN cp -a /src/app/. /app/ \
    && python -m compileall -q /app
# The key only lets prod settings import for collectstatic; it never reaches a runtime layer.
RUN SECRET_KEY=collectstatic-at-build-time-only-this-key-never-reaches-a-runtime-layer \
    DJANGO_SETTINGS_MODULE=config.settings.prod \
    bazaar manage collectstatic --noinput

# Skaffold dev loop: dev dependencies, dev settings, source owned by the app user so
# `skaffold dev` can sync edited files into the running container (it streams them with tar,
# which the Debian base already ships).
FROM base AS dev
COPY --from=uv /uv /usr/local/bin/uv
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-install-project
COPY app ./app
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-editable
WORKDIR /app
COPY --chown=10001:10001 app /app/
RUN install -d -o 10001 -g 10001 /run/prometheus /app/media /app/staticfiles
# gunicorn restarts its workers when skaffold syncs an edited module in.
ENV DJANGO_SETTINGS_MODULE=config.settings.dev \
    GUNICORN_CMD_ARGS="--reload"
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4)"]
ENTRYPOINT ["bazaar"]
CMD ["web"]

# Production: venv and code owned by root (the app cannot rewrite itself), nothing writable
# outside the emptyDir mount points.
FROM base AS runtime
LABEL org.opencontainers.image.title="bazaar" \
      org.opencontainers.image.description="Bazaar shop: one image for web, worker, beat, exporter and migrate"
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
RUN install -d -o 10001 -g 10001 /run/prometheus /app/media
WORKDIR /app
ENV DJANGO_SETTINGS_MODULE=config.settings.prod
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4)"]
ENTRYPOINT ["bazaar"]
CMD ["web"]
