"""Engine replies → Telegram messages: HTML, inline keyboards, edit-in-place, retries that are safe."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import lru_cache

from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.engine.model import Reply
from bot.logs import telegram_error
from bot.telegram.bot_api import BotApi

log = logging.getLogger(__name__)
# Object parameters go to the Bot API as JSON text inside the JSON body, as PTB sends them;
# written once here instead of on every send.
NO_PREVIEW = json.dumps({"is_disabled": True})
LINK = re.compile(r'<a\s+href="([^"]*)"\s*>(.*?)</a>', re.DOTALL)
TAG = re.compile(r"<[^>]*>")


@lru_cache(maxsize=1024)
def keyboard(reply: Reply) -> str | None:
    """The reply's buttons as the Bot API's InlineKeyboardMarkup, in JSON (replies repeat: cached)."""
    if not reply.keyboard:
        return None
    markup = {
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
    return json.dumps(markup, ensure_ascii=False, separators=(",", ":"))


async def _record_nothing(_index: int, _message_id: int | None) -> None:
    """The default: nobody keeps count of what was sent."""


async def send_replies(
    api: BotApi,
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
    `record_sent` before the next is sent. Only the new message ids are read from Telegram's answers.
    """
    done = already_sent or {}
    sent: list[int] = []
    for index, reply in enumerate(replies):
        if index in done:
            if (earlier := done[index]) is not None:
                sent.append(earlier)
            continue
        arguments = _arguments(chat_id, reply)
        if index == 0 and edit_message_id is not None and await _edit(api, edit_message_id, arguments):
            await record_sent(index, None)
            continue
        result = await _send(api, arguments)
        if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
            raise TelegramError("sendMessage answered without a message id")
        sent.append(result["message_id"])
        await record_sent(index, result["message_id"])
    return sent


async def _send(api: BotApi, arguments: dict[str, object]) -> object:
    """sendMessage; a reply Telegram refuses (a 400) is tried once more as plain text, then given up.

    A refusal is permanent, so it is never retried as it is; the plain text (tags stripped, links
    written out) still gives the reader the answer, numbers and addresses included.
    """
    try:
        return await api.call("sendMessage", arguments)
    except BadRequest as error:
        log.warning("Telegram refused a reply (%s); sending it as plain text", telegram_error(error))
        plain = {key: value for key, value in arguments.items() if key not in ("parse_mode", "reply_markup")}
        plain["text"] = plain_text(str(arguments["text"]))
        if "entities" in error.message.lower() and "reply_markup" in arguments:
            plain["reply_markup"] = arguments["reply_markup"]  # the buttons were not the problem
        return await api.call("sendMessage", plain)


async def stop_spinner(api: BotApi, query_id: str) -> None:
    """Answer a button press so its loading spinner stops; an expired query is no reason to fail."""
    try:
        await api.call("answerCallbackQuery", {"callback_query_id": query_id})
    except BadRequest as error:
        log.info("callback query could not be answered: %s", telegram_error(error))


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


async def _edit(api: BotApi, message_id: int, arguments: dict[str, object]) -> bool:
    """Replace the pressed message in place; False when it cannot be edited (then send a new one)."""
    try:
        await api.call("editMessageText", {**arguments, "message_id": message_id})
    except BadRequest as error:
        if "message is not modified" in error.message.lower():
            return True  # the same node pressed twice: what is shown is already right
        log.info("could not edit the pressed message (%s); sending a new one", telegram_error(error))
        return False
    return True
