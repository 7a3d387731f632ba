"""The aiohttp server: Telegram's webhook (secret-checked), /healthz and the web chat, around one bot."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from bot.i18n import Catalogs
from bot.live_scripts import LiveScripts
from bot.settings import ServeSettings
from bot.telegram import metrics_http
from bot.telegram.metrics import BotMetrics
from bot.telegram.runtime import Runtime, running_bot, taking_updates
from bot.telegram.secret_header import is_secret
from bot.telegram.updates import BodyRejected, read_update_body
from bot.web import app as web_chat

log = logging.getLogger(__name__)
RUNTIME = web.AppKey("runtime", Runtime)
SETTINGS = web.AppKey("settings", ServeSettings)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret


def create_app(runtime: Runtime, settings: ServeSettings) -> web.Application:
    """The web application around a running bot."""
    app = web.Application(client_max_size=settings.webhook_max_body_bytes)
    app[RUNTIME] = runtime
    app[SETTINGS] = settings
    app.router.add_get("/healthz", healthz)
    metrics_http.install(app, runtime.metrics, settings)
    if settings.webhook_url is not None:
        app.router.add_post(settings.webhook_url.path or "/", receive_update)
    if runtime.web is not None:
        web_chat.install(app, runtime.web, settings)
    return app


async def healthz(request: web.Request) -> web.Response:
    """200 when the scripts are loaded and the database answers; 503 otherwise."""
    runtime = request.app[RUNTIME]
    healthy = await runtime.healthy()
    live = runtime.scripts
    scripts: dict[str, object] = {"version": live.version, "loaded_at": live.loaded_at.isoformat()}
    if live.refused is not None:
        scripts["refused_at"] = live.refused.at.isoformat()
        scripts["refused_errors"] = len(live.refused.problems)
        # Where to look, as `balansebot check` names it; the last good version serves meanwhile.
        scripts["refused_where"] = [f"{p.path.as_posix()}:{p.line}" for p in live.refused.problems[:10]]
    body = {"status": "ok" if healthy else "unavailable", "scripts": scripts}
    return web.json_response(body, status=200 if healthy else 503)


async def receive_update(request: web.Request) -> web.Response:
    """One update from Telegram: checked, read, answered — then 200, or 503 so Telegram tries again."""
    runtime, settings = request.app[RUNTIME], request.app[SETTINGS]
    secret = settings.webhook_secret
    if secret is None or not is_secret(request.headers.get(SECRET_HEADER, ""), secret.get_secret_value()):
        runtime.metrics.count_unauthorized("webhook")
        return web.json_response({"error": "wrong or missing secret token"}, status=401)
    if request.content_length is not None and request.content_length > settings.webhook_max_body_bytes:
        return web.json_response({"error": "request body too large"}, status=413)
    try:
        async with asyncio.timeout(settings.http_read_timeout_seconds):
            body = await request.read()
    except TimeoutError:
        return web.json_response({"error": "the body took too long to arrive"}, status=408)
    update = read_update_body(body, runtime.bot, settings.webhook_max_body_bytes)
    if isinstance(update, BodyRejected):
        return web.json_response({"error": update.message}, status=update.status)
    if not runtime.gate.open:
        return web.json_response({"error": "starting or stopping; try again"}, status=503)
    try:
        await runtime.answerer.handle(update)
    except Exception as error:  # logged without the update; 503 unless Telegram refused it for good
        if runtime.answerer.failed(error):
            return web.json_response({"error": "could not answer now; try again"}, status=503)
    return web.json_response({"ok": True})


def _reload_in_background(scripts: LiveScripts, tasks: set[asyncio.Task[object]]) -> None:
    """SIGHUP: reload the scripts now (as a save in dialogues/ would)."""
    task: asyncio.Task[object] = asyncio.get_running_loop().create_task(scripts.reload())
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def serve(
    settings: ServeSettings, scripts: LiveScripts, catalogs: Catalogs, *, shutdown_seconds: float
) -> None:
    """Start, listen, go live; on SIGTERM/SIGINT stop taking updates, finish those in flight, close."""
    async with running_bot(settings, scripts, catalogs, BotMetrics()) as runtime:
        app = create_app(runtime, settings)
        # keepalive_timeout also bounds how long a new connection may take to send its first request's
        # headers (aiohttp starts it when the connection opens): a slow client is not held for good.
        runner = web.AppRunner(
            app,
            access_log=None,
            shutdown_timeout=shutdown_seconds,
            keepalive_timeout=settings.http_read_timeout_seconds,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, settings.host, settings.port)
            await site.start()
            # Only now can Telegram (or anyone checking the webhook) reach us.
            async with taking_updates(runtime, settings):
                stopping = asyncio.Event()
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(signum, stopping.set)
                reloads: set[asyncio.Task[object]] = set()  # held until done, so they are not collected early
                loop.add_signal_handler(signal.SIGHUP, _reload_in_background, scripts, reloads)
                await stopping.wait()
                log.info("stopping: finishing updates in flight")
            # New webhook requests get 503 from here on and are redelivered by Telegram.
        finally:
            await runner.cleanup()  # waits for the requests in flight
