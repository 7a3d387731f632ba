"""Engine replies → Telegram messages: HTML, inline keyboards, edit-in-place, retries that are safe."""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from functools import lru_cache, partial
from typing import TypeVar

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut

from bot.engine.model import Reply

log = logging.getLogger(__name__)
T = TypeVar("T")
NETWORK_RETRIES = 3
FIRST_BACKOFF_SECONDS = 0.5
NO_PREVIEW = {"is_disabled": True}
LINK = re.compile(r'<a\s+href="([^"]*)"\s*>(.*?)</a>', re.DOTALL)
TAG = re.compile(r"<[^>]*>")
# Told of each retry below ("network" or "timeout"); set per update by the metrics' update processor.
retry_observer: ContextVar[Callable[[str], None] | None] = ContextVar("retry_observer", default=None)


@lru_cache(maxsize=1024)
def keyboard(reply: Reply) -> dict[str, object] | None:
    """The reply's buttons as the Bot API's InlineKeyboardMarkup (replies repeat, so it is cached)."""
    if not reply.keyboard:
        return None
    return {
        "inline_keyboard": [
            [
                {"text": b.text, "url": b.url}
                if b.url
                else {"text": b.text, "callback_data": b.callback_data}
                for b in row
            ]
            for row in reply.keyboard
        ]
    }


async def with_network_retries(call: Callable[[], Awaitable[T]]) -> T:
    """Retry a Bot API call on network errors and timeouts, with backoff.

    429 is handled by PTB's rate limiter (it waits retry_after); a 400 or 403 is permanent and is
    raised at once. A timed-out send may in rare cases have arrived: a duplicate reply is the lesser
    harm than a lost one for someone asking for help.
    """
    delay = FIRST_BACKOFF_SECONDS
    for attempt in range(NETWORK_RETRIES + 1):
        try:
            return await call()
        except BadRequest:
            raise
        except NetworkError as error:
            if attempt == NETWORK_RETRIES:
                raise
            if (observe := retry_observer.get()) is not None:
                observe("timeout" if isinstance(error, TimedOut) else "network")
            log.warning(
                "Bot API call failed (%s), retry %d in %.1fs", type(error).__name__, attempt + 1, delay
            )
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


async def _record_nothing(_index: int, _message_id: int | None) -> None:
    """The default: nobody keeps count of what was sent."""


async def send_replies(
    bot: Bot,
    chat_id: int,
    replies: Sequence[Reply],
    *,
    edit_message_id: int | None,
    already_sent: Mapping[int, int | None] | None = None,
    record_sent: Callable[[int, int | None], Awaitable[None]] = _record_nothing,
) -> list[int]:
    """Send the replies in order; the first may replace the pressed message. Returns the new message ids.

    Replies in `already_sent` (index → message id, None for an edit) were accepted by Telegram on an
    earlier attempt at this update and are not sent again; each one accepted now is passed to
    `record_sent` before the next is sent.

    The raw API call skips parsing Telegram's echo of each message into PTB objects, which cost
    more CPU than everything else per update under load; only the new message id is needed.
    """
    done = already_sent or {}
    sent: list[int] = []
    for index, reply in enumerate(replies):
        if index in done:
            if (earlier := done[index]) is not None:
                sent.append(earlier)
            continue
        arguments = _arguments(chat_id, reply)
        if index == 0 and edit_message_id is not None and await _edit(bot, edit_message_id, arguments):
            await record_sent(index, None)
            continue
        result = await _send(bot, arguments)
        if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
            raise TelegramError("sendMessage answered without a message id")
        sent.append(result["message_id"])
        await record_sent(index, result["message_id"])
    return sent


async def _send(bot: Bot, arguments: dict[str, object]) -> object:
    """sendMessage; a reply Telegram refuses (a 400) is tried once more as plain text, then given up.

    A refusal is permanent, so it is never retried as it is; the plain text (tags stripped, links
    written out) still gives the reader the answer, numbers and addresses included.
    """
    try:
        return await with_network_retries(partial(bot.do_api_request, "sendMessage", api_kwargs=arguments))
    except BadRequest as error:
        log.warning("Telegram refused a reply (%s); sending it as plain text", error.message)
        plain = {key: value for key, value in arguments.items() if key not in ("parse_mode", "reply_markup")}
        plain["text"] = plain_text(str(arguments["text"]))
        if "entities" in error.message.lower() and "reply_markup" in arguments:
            plain["reply_markup"] = arguments["reply_markup"]  # the buttons were not the problem
        return await with_network_retries(partial(bot.do_api_request, "sendMessage", api_kwargs=plain))


def plain_text(text: str) -> str:
    """Telegram HTML as plain text: a link's address after its words, other tags dropped."""
    linked = LINK.sub(lambda m: m[2] if m[2] == m[1] else f"{m[2]} ({m[1]})", text)
    return html.unescape(TAG.sub("", linked))


def _arguments(chat_id: int, reply: Reply) -> dict[str, object]:
    arguments: dict[str, object] = {
        "chat_id": chat_id,
        "text": reply.text,
        "parse_mode": ParseMode.HTML.value,
        "link_preview_options": NO_PREVIEW,
    }
    markup = keyboard(reply)
    if markup is not None:
        arguments["reply_markup"] = markup
    return arguments


async def _edit(bot: Bot, message_id: int, arguments: dict[str, object]) -> bool:
    """Replace the pressed message in place; False when it cannot be edited (then send a new one)."""
    try:
        await with_network_retries(
            partial(bot.do_api_request, "editMessageText", api_kwargs={**arguments, "message_id": message_id})
        )
    except BadRequest as error:
        if "message is not modified" in error.message.lower():
            return True  # the same node pressed twice: what is shown is already right
        log.info("could not edit the pressed message (%s); sending a new one", error.message)
        return False
    return True
