"""The aiohttp server: Telegram's webhook (secret-checked) and /healthz, around one Runtime."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator

from aiohttp import web

from bot.telegram import metrics_http
from bot.telegram.conversations import Incoming
from bot.telegram.delivery import Delivery, current_delivery
from bot.telegram.runtime import Runtime
from bot.telegram.secret_header import is_secret
from bot.telegram.update_body import BodyRejected, read_update_body

log = logging.getLogger(__name__)
RUNTIME = web.AppKey("runtime", Runtime)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret


def create_app(runtime: Runtime) -> web.Application:
    """The web application; the runtime starts with it and stops with it."""
    settings = runtime.settings
    app = web.Application(client_max_size=settings.webhook_max_body_bytes)
    app[RUNTIME] = runtime
    app.cleanup_ctx.append(_run_runtime)
    app.router.add_get("/healthz", healthz)
    metrics_http.install(app, runtime.metrics, settings)
    if settings.webhook_url is not None:
        app.router.add_post(settings.webhook_url.path or "/", receive_update)
    return app


async def _run_runtime(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME]
    try:
        await runtime.start()
        yield
    finally:
        await runtime.stop()


async def healthz(request: web.Request) -> web.Response:
    """200 when the scripts are loaded and the database answers; 503 otherwise."""
    runtime = request.app[RUNTIME]
    healthy = await runtime.healthy()
    live = runtime.scripts
    scripts: dict[str, object] = {"version": live.version, "loaded_at": live.loaded_at.isoformat()}
    if live.refused is not None:
        scripts["refused_at"] = live.refused.at.isoformat()
        scripts["refused_errors"] = len(live.refused.problems)
    body = {"status": "ok" if healthy else "unavailable", "scripts": scripts}
    return web.json_response(body, status=200 if healthy else 503)


async def receive_update(request: web.Request) -> web.Response:
    """One update from Telegram: checked, parsed, answered — then 200, or 503 so Telegram tries again."""
    runtime = request.app[RUNTIME]
    secret = runtime.settings.webhook_secret
    if secret is None or not is_secret(request.headers.get(SECRET_HEADER, ""), secret.get_secret_value()):
        runtime.metrics.count_unauthorized("webhook")
        return web.json_response({"error": "wrong or missing secret token"}, status=401)
    if (
        request.content_length is not None
        and request.content_length > runtime.settings.webhook_max_body_bytes
    ):
        return web.json_response({"error": "request body too large"}, status=413)
    assert runtime.application is not None  # noqa: S101 - the route exists only while running
    # Ordinary messages and button presses come back as an Incoming: no PTB objects or dispatch.
    try:
        async with asyncio.timeout(runtime.settings.http_read_timeout_seconds):
            body = await request.read()
    except TimeoutError:
        return web.json_response({"error": "the body took too long to arrive"}, status=408)
    read = read_update_body(body, runtime.application.bot, runtime.settings.webhook_max_body_bytes)
    if isinstance(read, BodyRejected):
        return web.json_response({"error": read.message}, status=read.status)
    if not runtime.ready:
        return web.json_response({"error": "starting or stopping; try again"}, status=503)
    delivery = Delivery()
    token = current_delivery.set(delivery)
    try:
        if isinstance(read, Incoming):
            await runtime.answer(read)
        else:
            await runtime.process(read)
    finally:
        current_delivery.reset(token)
    if delivery.error is not None:
        return web.json_response({"error": "could not answer now; try again"}, status=503)
    return web.json_response({"ok": True})


def _reload_in_background(runtime: Runtime, tasks: set[asyncio.Task[object]]) -> None:
    """SIGHUP: reload the scripts now (as a save in dialogues/ would)."""
    task: asyncio.Task[object] = asyncio.get_running_loop().create_task(runtime.scripts.reload())
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def serve(runtime: Runtime, *, shutdown_seconds: float) -> None:
    """Listen, go live, and on SIGTERM/SIGINT stop taking updates, finish those in flight and close."""
    settings = runtime.settings
    # keepalive_timeout also bounds how long a new connection may take to send its first request's
    # headers (aiohttp starts it when the connection opens): a slow client is not held for good.
    runner = web.AppRunner(
        create_app(runtime),
        access_log=None,
        shutdown_timeout=shutdown_seconds,
        keepalive_timeout=settings.http_read_timeout_seconds,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        # Only now can Telegram (or anyone checking the webhook) reach us.
        await runtime.go_live()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        reloads: set[asyncio.Task[object]] = set()  # held until done, so they are not collected early
        loop.add_signal_handler(signal.SIGHUP, _reload_in_background, runtime, reloads)
        await stopping.wait()
        log.info("stopping: finishing updates in flight")
        runtime.ready = False  # new webhook requests get 503 and are redelivered by Telegram
    finally:
        await runner.cleanup()
