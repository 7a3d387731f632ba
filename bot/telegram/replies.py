"""Engine replies → Telegram messages: HTML, inline keyboards, edit-in-place, plain text when refused."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Protocol, assert_never

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.content.telegram_html import plain_text
from bot.engine.model import Button, CallbackButton, LinkButton, Reply
from bot.logs import telegram_error

log = logging.getLogger(__name__)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


@lru_cache(maxsize=1024)
def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's buttons as an inline keyboard (replies repeat: cached; PTB's objects are frozen)."""
    if not reply.keyboard:
        return None
    return InlineKeyboardMarkup([[telegram_button(b) for b in row] for row in reply.keyboard])


def telegram_button(button: Button) -> InlineKeyboardButton:
    """One engine button as Telegram's inline keyboard button."""
    match button:
        case CallbackButton(text, data):
            return InlineKeyboardButton(text, callback_data=data)
        case LinkButton(text, url):
            return InlineKeyboardButton(text, url=url)
        case _:
            assert_never(button)


class RecordSent(Protocol):
    """Told of each reply Telegram accepted; `last` when no other reply follows it."""

    async def __call__(self, index: int, message_id: int | None, *, last: bool = False) -> None:
        """Record that reply `index` was accepted (message id, or None for an edit in place)."""


async def _record_nothing(index: int, message_id: int | None, *, last: bool = False) -> None:
    """The default: nobody keeps count of what was sent."""


async def send_replies(
    bot: Bot,
    chat_id: int,
    replies: Sequence[Reply],
    *,
    edit_message_id: int | None,
    already_sent: Mapping[int, int | None] | None = None,
    record_sent: RecordSent = _record_nothing,
) -> list[int]:
    """Send the replies in order; the first may replace the pressed message. Returns the new message ids.

    Replies in `already_sent` (index → message id, None for an edit) were accepted by Telegram on an
    earlier attempt at this update and are not sent again; each one accepted now is passed to
    `record_sent` before the next is sent (the last with `last=True`). Only the new message ids are
    read from Telegram's answers.
    """
    done = already_sent or {}
    sent: list[int] = []
    for index, reply in enumerate(replies):
        if index in done:
            if (earlier := done[index]) is not None:
                sent.append(earlier)
            continue
        if index == 0 and edit_message_id is not None and await _edit(bot, chat_id, edit_message_id, reply):
            await record_sent(index, None, last=index == len(replies) - 1)
            continue
        message = await _send(bot, chat_id, reply)
        sent.append(message.message_id)
        await record_sent(index, message.message_id, last=index == len(replies) - 1)
    return sent


async def _send(bot: Bot, chat_id: int, reply: Reply) -> Message:
    """sendMessage; a reply Telegram refuses (a 400) is tried once more as plain text, then given up.

    A refusal is permanent, so it is never retried as it is; the plain text (tags stripped, links
    written out) still gives the reader the answer, numbers and addresses included.
    """
    markup = keyboard(reply)
    try:
        return await bot.send_message(
            chat_id,
            reply.text,
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            reply_markup=markup,
        )
    except BadRequest as error:
        log.warning("Telegram refused a reply (%s); sending it as plain text", telegram_error(error))
        buttons_fine = "entities" in error.message.lower()  # the buttons were not the problem
        return await bot.send_message(
            chat_id,
            plain_text(reply.text),
            link_preview_options=NO_PREVIEW,
            reply_markup=markup if buttons_fine else None,
        )


async def stop_spinner(bot: Bot, query_id: str) -> None:
    """Answer a button press so its loading spinner stops; an expired query is no reason to fail."""
    try:
        await bot.answer_callback_query(query_id)
    except BadRequest as error:
        log.info("callback query could not be answered: %s", telegram_error(error))


async def _edit(bot: Bot, chat_id: int, message_id: int, reply: Reply) -> bool:
    """Replace the pressed message in place; False when it cannot be edited (then send a new one)."""
    try:
        await bot.edit_message_text(
            reply.text,
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            reply_markup=keyboard(reply),
        )
    except BadRequest as error:
        if "message is not modified" in error.message.lower():
            return True  # the same node pressed twice: what is shown is already right
        log.info("could not edit the pressed message (%s); sending a new one", telegram_error(error))
        return False
    return True
