"""`GET /metrics` for Prometheus on the bot's own web server, and the count of webhook answers.

/metrics says how busy the bot is, never who talks to it; still, it is meant for the operator's
Prometheus, not the internet. Without METRICS_TOKEN it answers only requests from this machine
(loopback) and 403 to the rest; with it, it wants `Authorization: Bearer <token>` from anywhere and
answers 401 otherwise.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from bot.settings import ServeSettings
from bot.telegram.metrics import BotMetrics
from bot.telegram.secret_header import is_secret

METRICS_PATH = "/metrics"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def install(app: web.Application, metrics: BotMetrics, settings: ServeSettings) -> None:
    """Serve /metrics on `app` (behind METRICS_TOKEN when set) and count answers on the webhook path."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token is not None else None
    app.router.add_get(METRICS_PATH, metrics_handler(metrics, token))
    if settings.webhook_url is not None:
        # The path the webhook is routed at (bot/telegram/webapp.py create_app).
        path = settings.webhook_url.path or "/"
        app.middlewares.append(count_webhook_responses(metrics, path))


def metrics_handler(metrics: BotMetrics, token: str | None) -> Handler:
    """The /metrics handler: the registry in the format the scraper asks for (text or OpenMetrics)."""
    expected = None if token is None else f"Bearer {token}"

    async def handle(request: web.Request) -> web.StreamResponse:
        if expected is None and not from_loopback(request):
            metrics.count_unauthorized("metrics")
            return web.json_response(
                {"error": "/metrics answers this machine only; set METRICS_TOKEN to scrape from elsewhere"},
                status=403,
            )
        if expected is not None and not is_secret(request.headers.get("Authorization", ""), expected):
            metrics.count_unauthorized("metrics")
            return web.json_response(
                {"error": "wrong or missing bearer token"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        await metrics.refresh()
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encode(metrics.registry), headers={"Content-Type": content_type})

    return handle


def from_loopback(request: web.Request) -> bool:
    """Whether the request's peer (the socket's, not a forwarded header) is this machine."""
    try:
        return request.remote is not None and ipaddress.ip_address(request.remote).is_loopback
    except ValueError:  # a Unix socket has no address
        return False


def count_webhook_responses(metrics: BotMetrics, path: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Middleware counting every answer on the webhook path by status, errors raised included."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != path:
            return await handler(request)
        status = 500  # what aiohttp answers for anything but an HTTP exception
        try:
            response = await handler(request)
            status = response.status
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            metrics.webhook_responses.labels(status=str(status)).inc()
        return response

    return middleware
