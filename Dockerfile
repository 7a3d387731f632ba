# syntax=docker/dockerfile:1
# Balansebot's production image: `docker build -t balansebot .`, then see compose.yaml.
# The tests in tests/deploy/ lint this file with hadolint and run its ENTRYPOINT, CMD, ENV and
# HEALTHCHECK outside Docker; keep them in step when changing it.

# Builder: resolve the locked dependencies into /app/.venv with uv, bytecode compiled.
# Same base image as the final stage: the venv's python links to /usr/local/bin/python3.11.
FROM python:3.11.14-slim-bookworm AS builder
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first, from the lock file alone, so a code change does not reinstall them.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --locked --no-dev --no-install-project
COPY pyproject.toml uv.lock README.md ./
COPY bot/ bot/
# The project itself, installed editable: the code stays at /app/bot, where the final stage puts it.
# uv compiles site-packages; bot/ is compiled here with hashes, which survive the copy's timestamps.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev \
    && python -m compileall -q --invalidation-mode checked-hash bot

# Final: no uv, no compilers, a user without a login, code and content owned by root (read-only).
FROM python:3.11.14-slim-bookworm
RUN groupadd --system --gid 10001 balansebot \
    && useradd --system --uid 10001 --gid balansebot --no-log-init --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin balansebot \
    && mkdir -m 700 /data \
    && chown balansebot:balansebot /data
WORKDIR /app
COPY --from=builder /app/.venv /app/.venv
COPY --from=builder /app/bot /app/bot
COPY dialogues/ /app/dialogues/
COPY locales/ /app/locales/
# DIALOGUES_DIR and LOCALES_DIR are read by bot/settings.py: mount a volume over /app/dialogues (or
# point DIALOGUES_DIR elsewhere) to serve edited scripts without rebuilding. DATABASE_URL's default
# keeps SQLite in the /data volume; compose.yaml sets PostgreSQL. The pseudonym key never goes in
# /data: mount it at /run/secrets/pseudonym_key (a Docker secret or a read-only file), or set
# PSEUDONYM_KEY, which wins; without either the bot refuses to start (docs/operations.md).
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DIALOGUES_DIR=/app/dialogues \
    LOCALES_DIR=/app/locales \
    DATABASE_URL=sqlite:////data/balansebot.db \
    KEPT_SCRIPTS_DIR=/data/kept-scripts \
    PSEUDONYM_KEY_FILE=/run/secrets/pseudonym_key
# Numeric, so runtimes that check runAsNonRoot can see it is not root.
USER 10001:10001
VOLUME ["/data"]
# PORT's default in bot/settings.py: the webhook and /healthz.
EXPOSE 8080
# `serve` checks scripts and migrates before it listens, hence the start period.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot.healthcheck"]
# serve finishes updates in flight on SIGTERM within 8 s, inside Docker's default 10 s stop timeout.
STOPSIGNAL SIGTERM
ENTRYPOINT ["balansebot"]
CMD ["serve"]
