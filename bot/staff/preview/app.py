"""The preview's web application: the page, its JSON API and the live status of the scripts."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.live_scripts import LiveScripts
from bot.staff.flow_graph import GraphvizError
from bot.staff.preview.flow import FlowCharts
from bot.staff.preview.sessions import Sessions
from bot.staff.preview.settings import MAX_BODY_BYTES, PreviewSettings
from bot.staff.preview.stats import chart_data
from bot.staff.preview.status import Status, StatusBoard
from bot.staff.preview.turn import restart, take_turn
from bot.staff.preview.words import page_html
from bot.stats.counter import stats_day
from bot.web.chat_request import (
    ChatRequest,
    ChatRequestError,
    engine_event,
    parse_chat_request,
)

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
SHARED_STATIC_DIR = Path(__file__).parents[2] / "web" / "static"  # bubbles.js: the web chat's too
HEARTBEAT_SECONDS = 15  # an SSE comment now and then notices a closed tab and keeps proxies from timing out

SETTINGS = web.AppKey("settings", PreviewSettings)
LIVE = web.AppKey("live", LiveScripts)
SESSIONS = web.AppKey("sessions", Sessions)
STATUS = web.AppKey("status", StatusBoard)
FLOWS = web.AppKey("flows", FlowCharts)
Clock = Callable[[], dt.datetime]
CLOCK: web.AppKey[Clock] = web.AppKey("clock")

# The page loads only its own files; anything injected could neither run nor send data elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(
    settings: PreviewSettings,
    live: LiveScripts,
    status: StatusBoard,
    clock: Clock = lambda: dt.datetime.now(dt.UTC),
) -> web.Application:
    """The application; with settings.watch_dialogues it reloads the scripts whenever a file is saved."""
    app = web.Application(
        client_max_size=MAX_BODY_BYTES, middlewares=[_known_host(settings.host), _security_headers]
    )
    app[SETTINGS] = settings
    app[LIVE] = live
    app[SESSIONS] = Sessions()
    app[STATUS] = status
    app[FLOWS] = FlowCharts()
    app[CLOCK] = clock
    if settings.watch_dialogues:
        app.cleanup_ctx.append(_watch_scripts)
    app.on_shutdown.append(_end_streams)
    app.router.add_get("/", index)
    app.router.add_post("/api/chat", chat)
    app.router.add_get("/api/flow.svg", flow_svg)
    app.router.add_get("/api/events", events)
    app.router.add_get("/api/status", status_now)
    app.router.add_get("/api/stats", stats)
    app.router.add_static("/static", STATIC_DIR, append_version=True)
    app.router.add_static("/shared", SHARED_STATIC_DIR, append_version=True)
    return app


async def _watch_scripts(app: web.Application) -> AsyncIterator[None]:
    """Reload the scripts on every save while the preview runs."""
    stop = asyncio.Event()
    watcher = asyncio.create_task(app[LIVE].watch(stop), name="watch-dialogues")
    yield
    stop.set()
    try:
        await asyncio.wait_for(watcher, timeout=5)
    except TimeoutError:
        log.warning("the file watcher did not stop within 5 s; it was cancelled")
    except Exception:
        # Stopping must not fail because watching did (the dialogues folder was removed, say).
        log.exception("watching the dialogues folder failed")


async def _end_streams(app: web.Application) -> None:
    """Open event streams end first, so stopping does not wait for the browser tabs."""
    app[STATUS].close()


def _known_host(own_host: str) -> Middleware:
    """Answer only requests addressed to this machine by an IP address, `localhost` or `own_host`.

    DNS rebinding points a web page's own domain name at 127.0.0.1, so that a visitor's browser
    reads /api/stats or drives /api/chat as if the page had the same origin; such requests name
    that domain in their Host header and get 421 here.
    """

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        host = (request.url.host or "").strip("[]").lower()
        if host in ("localhost", own_host.lower()) or _is_ip_address(host):
            return await handler(request)
        return web.json_response(
            {"error": "open the preview by this machine's address (127.0.0.1), not another name"},
            status=421,
        )

    return middleware


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@web.middleware
async def _security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every answer carries the page's security headers."""
    try:
        response = await handler(request)
    except web.HTTPException as error:
        error.headers.update(SECURITY_HEADERS)
        raise
    if not response.prepared:  # an event stream has sent its headers already
        response.headers.update(SECURITY_HEADERS)
    return response


async def index(request: web.Request) -> web.Response:
    """The page, in the staff tools' language."""
    scripts = request.app[LIVE].engine.scripts
    languages = [(e.code, e.name) for e in scripts.language_list.entries if e.code in scripts.languages]
    return web.Response(
        text=page_html(STATIC_DIR / "index.html", languages),
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-cache"},
    )


async def chat(request: web.Request) -> web.Response:
    """One turn: {session, lang, event: {kind, value, message?}} → the bot's replies."""
    if request.content_type != "application/json":
        # A JSON content type also makes browsers ask before another site's page may post here.
        return _error(415, "send the body as application/json")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(await request.read())
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return _error(400, f"the body is not JSON ({error})")
    try:
        turn_request = parse_chat_request(body)
    except ChatRequestError as error:
        return _error(400, str(error))
    scripts = request.app[LIVE].engine.scripts
    if turn_request.lang not in scripts.languages:
        return _error(400, f"lang: must be one of {', '.join(sorted(scripts.languages))}")
    try:
        return web.json_response(_answer(request.app, turn_request))
    except ChatRequestError as error:
        return _error(400, str(error))


def _answer(app: web.Application, turn_request: ChatRequest) -> dict[str, object]:
    live, sessions, now = app[LIVE], app[SESSIONS], app[CLOCK]()
    engine = live.engine  # one version for the whole turn, even if a save swaps it meanwhile
    event = turn_request.event
    if event.kind == "restart":
        turn = restart(engine, sessions.restart(turn_request.session, turn_request.lang), now)
    else:
        session = sessions.get(turn_request.session, turn_request.lang)
        turn = take_turn(engine, session, engine_event(event), now, pressed=event.message)
    return turn.as_json(engine.scripts.version)


async def flow_svg(request: web.Request) -> web.Response:
    """The flow chart of the served scripts, with node titles in ?lang= (one of languages.yaml's)."""
    lang = request.query.get("lang", "nb")
    scripts = request.app[LIVE].engine.scripts
    if lang not in scripts.languages:
        return _error(400, f"lang must be one of {', '.join(sorted(scripts.languages))}")
    try:
        svg = await request.app[FLOWS].svg(scripts, lang)
    except GraphvizError as error:
        return _error(503, str(error))
    except ValueError as error:  # a language the scripts do not have
        return _error(400, str(error))
    return web.Response(
        body=svg,
        content_type="image/svg+xml",
        charset="utf-8",
        headers={"Cache-Control": "no-cache", "X-Scripts-Version": scripts.version},
    )


async def status_now(request: web.Request) -> web.Response:
    """The scripts' status once (for a page that cannot keep an event stream open)."""
    return web.json_response(request.app[STATUS].current)


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: the status now, then after every reload, until the tab closes."""
    board = request.app[STATUS]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            **SECURITY_HEADERS,
        }
    )
    await response.prepare(request)
    queue = board.listen()
    try:
        await response.write(_event(board.current))
        while True:
            try:
                status = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                await response.write(b": still here\n\n")
                continue
            if status is None:
                break
            await response.write(_event(status))
    except ConnectionResetError:
        pass  # the tab was closed
    finally:
        board.forget(queue)
    return response


def _event(status: Status) -> bytes:
    return b"event: status\ndata: " + json.dumps(status).encode() + b"\n\n"


async def stats(request: web.Request) -> web.Response:
    """The last 14 days' anonymous counts (small ones suppressed), or why there are none."""
    today = stats_day(request.app[CLOCK]())
    return web.json_response(await chart_data(request.app[SETTINGS].database_url, today))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
