"""Engine replies → Telegram messages: HTML, inline keyboards, edit-in-place, retries that are safe."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache, partial
from typing import TypeVar

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError

from bot.engine.model import Reply

log = logging.getLogger(__name__)
T = TypeVar("T")
NETWORK_RETRIES = 3
FIRST_BACKOFF_SECONDS = 0.5
NO_PREVIEW = {"is_disabled": True}


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
            log.warning(
                "Bot API call failed (%s), retry %d in %.1fs", type(error).__name__, attempt + 1, delay
            )
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


async def send_replies(
    bot: Bot, chat_id: int, replies: Sequence[Reply], *, edit_message_id: int | None
) -> list[int]:
    """Send the replies in order; the first may replace the pressed message. Returns the new message ids.

    The raw API call skips parsing Telegram's echo of each message into PTB objects, which cost
    more CPU than everything else per update under load; only the new message id is needed.
    """
    sent: list[int] = []
    for index, reply in enumerate(replies):
        arguments = _arguments(chat_id, reply)
        if index == 0 and edit_message_id is not None and await _edit(bot, edit_message_id, arguments):
            continue
        result = await with_network_retries(partial(bot.do_api_request, "sendMessage", api_kwargs=arguments))
        if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
            raise TelegramError("sendMessage answered without a message id")
        sent.append(result["message_id"])
    return sent


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
