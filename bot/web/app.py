"""The web chat's HTTP side, beside the webhook in `balansebot serve`: the page, its files, turns, exit.

Anonymous by construction: no cookie is set, the page keeps its random session id in
sessionStorage, the session id is only ever used as its keyed pseudonym, and a network address is
used in memory only (the per-address limit), never stored or logged. Every answer carries a strict
Content-Security-Policy and `Referrer-Policy: no-referrer`; conversation answers are `no-store`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import string
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.content.scripts import Scripts
from bot.content.telegram_html import page_html
from bot.engine.engine import choose_language
from bot.engine.model import Command, Event, FreeText
from bot.i18n import Catalogs
from bot.settings import ServeSettings
from bot.telegram.answering import CURABLE, ChatOrder
from bot.telegram.conversations import Incoming
from bot.telegram.flood import FloodBuckets, FloodGuard, Verdict
from bot.telegram.metrics import BotMetrics
from bot.web.chat_request import (
    ChatRequestError,
    WebExitRequest,
    WebTurnRequest,
    engine_event,
    parse_model,
)
from bot.web.conversation import WebConversations
from bot.web.render import page_buttons
from bot.web.texts import page_texts

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
PAGE = string.Template((Path(__file__).parent / "page.html").read_text(encoding="utf-8"))
MAX_BODY_BYTES = 32 * 1024  # a message of 4,096 characters, escaped in JSON, fits with room to spare
NO_STORE = {"Cache-Control": "no-store"}
WEB_KINDS = {"text": "web_text", "command": "web_command", "press": "web_press"}


@dataclass(frozen=True)
class WebChat:
    """Everything the web chat's routes use, from the running bot."""

    conversations: WebConversations
    flood: FloodGuard | None
    addresses: FloodBuckets
    catalogs: Catalogs
    metrics: BotMetrics
    is_open: Callable[[], bool]
    order: ChatOrder


WEB = web.AppKey("web_chat", WebChat)
SERVE_SETTINGS = web.AppKey("web_chat_settings", ServeSettings)


def security_headers(settings: ServeSettings) -> dict[str, str]:
    """The headers of every web chat answer (a proxy must pass them on unchanged: docs/operations.md)."""
    ancestors = settings.web_chat_frame_ancestors.split() or ["'none'"]
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; "
            f"frame-ancestors {' '.join(ancestors)}"
        ),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    }


def install(app: web.Application, chat: WebChat, settings: ServeSettings) -> None:
    """Add the web chat's routes under WEB_CHAT_PATH to the bot's application."""
    app[WEB] = chat
    app[SERVE_SETTINGS] = settings
    prefix = settings.web_chat_path
    app.middlewares.append(_headers(prefix, security_headers(settings)))
    app.router.add_get(prefix.rstrip("/"), _to_page)
    app.router.add_get(prefix, page)
    app.router.add_post(f"{prefix}api/turn", _refusals(turn))
    app.router.add_post(f"{prefix}api/exit", _refusals(leave))
    app.router.add_static(f"{prefix}static", STATIC_DIR)


def _headers(prefix: str, headers: dict[str, str]) -> Middleware:
    """The web chat's security headers on every answer under its path, errors included."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith(prefix.rstrip("/")):
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException as error:
            error.headers.update(headers)
            raise
        response.headers.update(headers)
        return response

    return middleware


async def _to_page(request: web.Request) -> web.Response:
    raise web.HTTPPermanentRedirect(request.app[SERVE_SETTINGS].web_chat_path)


async def page(request: web.Request) -> web.Response:
    """The chat page in the browser's language (Accept-Language), with every language's texts for the page."""
    chat, settings = request.app[WEB], request.app[SERVE_SETTINGS]
    scripts = chat.conversations.scripts()
    lang = browser_language(request.headers.get("Accept-Language", ""), scripts)
    texts = {
        code: page_texts(chat.catalogs, scripts, code)
        for code in scripts.language_list.codes
        if code in scripts.languages
    }
    shown = texts[lang]
    # JSON in a data block: "<" escaped, so no text can end the block early.
    data = json.dumps(texts, ensure_ascii=False).replace("<", "\\u003c")
    html = PAGE.substitute(
        {name: _escape(value) for name, value in shown.items()},
        lang=lang,
        static=f"{settings.web_chat_path}static",
        api=f"{settings.web_chat_path}api/",
        exit_url=_escape(str(settings.web_chat_exit_url)),
        texts=data,
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8", headers=NO_STORE)


def browser_language(header: str, scripts: Scripts) -> str:
    """The first language of Accept-Language the bot speaks (as languages.yaml names them: nb/no, nn,
    en), by its q-value; else the default."""
    known = scripts.language_list.telegram_codes()
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        base = tag.strip().lower().split("-")[0]
        if base in known and quality > 0:
            wanted.append((-quality, position, base))
    return choose_language(min(wanted)[2] if wanted else None, scripts)


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


async def _body(request: web.Request) -> object:
    """The request's JSON, or an HTTP error that says what is wrong (never a 500)."""
    if request.content_type != "application/json":
        raise _error(415, "send the body as application/json")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        async with asyncio.timeout(request.app[SERVE_SETTINGS].http_read_timeout_seconds):
            raw = await request.read()
    except TimeoutError:
        raise _error(408, "the body took too long to arrive") from None
    except web.HTTPRequestEntityTooLarge:
        raise _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes") from None
    if len(raw) > MAX_BODY_BYTES:
        raise _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _error(400, "the body is not JSON") from None


async def turn(request: web.Request) -> web.Response:
    """One message: {session, turn, lang, event: {kind, value}} → the bot's replies, in the page's shape."""
    chat = request.app[WEB]
    body = await _body(request)
    try:
        asked = parse_model(WebTurnRequest, body)
        event = engine_event(asked.event)
    except ChatRequestError as error:
        raise _error(400, str(error)) from None
    if not chat.is_open():
        raise _error(503, "starting or stopping; try again")
    _ = chat.catalogs.get(asked.lang).gettext
    number = chat.conversations.chat_number(asked.session)
    if not _may_answer(chat, _address(request), number, event):
        raise _error(429, _("Many messages arrived at once. Please wait a few seconds and send it again."))
    async with chat.order.turn(number):
        started = time.perf_counter()
        try:
            answer = await chat.conversations.answer(asked.session, asked.turn, event, asked.lang)
        except Exception as error:
            chat.metrics.update_errors.inc()
            log.error("a web chat message could not be answered: %s", type(error).__name__, exc_info=error)
            status = 503 if isinstance(error, CURABLE) else 500
            failed = _("The message did not get through. Check your connection and press Send again.")
            raise _error(status, failed) from None
        finally:
            chat.metrics.update_seconds.observe(time.perf_counter() - started)
    # Counted like a Telegram update, once answered; a resent message by itself.
    chat.metrics.count_update("web_resent" if answer.replayed else WEB_KINDS[asked.event.kind])
    replies = [
        {"html": page_html(reply.text), "buttons": [list(row) for row in page_buttons(reply)]}
        for reply in answer.replies
    ]
    shown: dict[str, object] = {
        "replies": replies,
        "lang": answer.lang,
        "forgot": answer.forgot,
        "replayed": answer.replayed,
    }
    if answer.auto_delete_seconds is not None:
        shown["auto_delete_seconds"] = answer.auto_delete_seconds  # the page clears itself then
    return web.json_response(shown, headers=NO_STORE)


def _address(request: web.Request) -> str | None:
    """The reader's network address, for the per-address limit only (in memory, never stored or logged)."""
    if request.app[SERVE_SETTINGS].web_chat_behind_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        return forwarded or request.remote
    return request.remote


def _may_answer(chat: WebChat, address: str | None, number: int, event: Event) -> bool:
    """Per address and per conversation, the same flood rules as a Telegram chat's (acute always first).

    The address is used here, in memory, and nowhere else: it is the bucket's key for a few seconds.
    """
    acute = isinstance(event, FreeText) and chat.conversations.is_acute(event.text)
    if not chat.addresses.take(hash(address or "")) and not acute and not isinstance(event, Command):
        return False
    if chat.flood is None:
        return True
    return chat.flood.judge(Incoming(number, event)) is Verdict.ANSWER


async def leave(request: web.Request) -> web.Response:
    """The quick exit: erase the conversation (as /slett does); always answered, even when throttled."""
    chat = request.app[WEB]
    try:
        asked = parse_model(WebExitRequest, await _body(request))
    except ChatRequestError as error:
        raise _error(400, str(error)) from None
    if not chat.is_open():
        raise _error(503, "starting or stopping; try again")
    number = chat.conversations.chat_number(asked.session)
    async with chat.order.turn(number):
        try:
            await chat.conversations.forget(asked.session, f"exit-{secrets.token_hex(16)}")
        except Exception as error:
            log.error("a web chat could not be erased at exit: %s", type(error).__name__, exc_info=error)
            raise _error(503, "could not erase now; try again") from None
    return web.Response(status=204, headers=NO_STORE)


class RefusedError(Exception):
    """A request answered with an error status and a message the page can show."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> RefusedError:
    return RefusedError(status, message)


def _refusals(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A refusal becomes its JSON answer (4xx, or 503 when trying again can help)."""

    async def answered(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except RefusedError as refusal:
            return web.json_response({"error": refusal.message}, status=refusal.status, headers=NO_STORE)

    return answered
