"""python-telegram-bot handlers: turn each kind of update into an engine event, nothing more."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.engine.engine import EDITED
from bot.engine.model import ButtonPress, Command, Event, FreeText, NonText
from bot.i18n import Catalogs
from bot.telegram.answering import Answerer
from bot.telegram.conversations import Incoming
from bot.telegram.raw_updates import command_name

log = logging.getLogger(__name__)
PtbApplication = Application[Any, Any, Any, Any, Any, Any]
ANSWERER = "answerer"
CATALOGS = "catalogs"
ATTACHMENT_KINDS = (
    "sticker",
    "photo",
    "voice",
    "video",
    "video_note",
    "audio",
    "document",
    "animation",
    "location",
    "contact",
    "poll",
    "dice",
)


def register(application: PtbApplication, answerer: Answerer, catalogs: Catalogs) -> None:
    """Wire every handler; the application's bot_data carries the shared services."""
    application.bot_data[ANSWERER] = answerer
    application.bot_data[CATALOGS] = catalogs
    private = filters.ChatType.PRIVATE
    application.add_handler(
        MessageHandler(private & filters.UpdateType.MESSAGE & filters.COMMAND, on_command)
    )
    application.add_handler(MessageHandler(private & filters.UpdateType.MESSAGE & filters.TEXT, on_text))
    application.add_handler(MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, on_edited))
    application.add_handler(MessageHandler(private & filters.UpdateType.MESSAGE, on_other))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(MessageHandler(filters.ChatType.GROUPS, on_group_message))
    application.add_handler(ChatMemberHandler(on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_error_handler(on_error)


def register_staff_chat(application: PtbApplication, chat_id: int) -> None:
    """Keep the bot in the staff chat where leads are posted: its updates skip the group-leaving handlers."""
    # Group -1 runs before register()'s handlers (group 0); ApplicationHandlerStop skips those.
    application.add_handler(MessageHandler(filters.Chat(chat_id), on_staff_chat), group=-1)
    application.add_handler(
        ChatMemberHandler(on_staff_chat, ChatMemberHandler.MY_CHAT_MEMBER, chat_id=chat_id), group=-1
    )


async def on_staff_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Staff writing in their group, or adding the bot there, is no conversation: ignore it."""
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:  # a private staff chat is a normal chat
        raise ApplicationHandlerStop


async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A /command in a private chat."""
    message = _message(update)
    await _handle(update, context, Command(command_name(message.text or "/")), message_id=message.message_id)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A typed question in a private chat."""
    message = _message(update)
    await _handle(update, context, FreeText(message.text or ""), message_id=message.message_id)


async def on_edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edited message: answered kindly, never re-routed as if it were new."""
    await _handle(update, context, NonText(EDITED))


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A sticker, photo, voice message … that the bot cannot read."""
    message = _message(update)
    kind = next((k for k in ATTACHMENT_KINDS if getattr(message, k, None)), "other")
    await _handle(update, context, NonText(kind), message_id=message.message_id)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An inline button was pressed (possibly on an old message)."""
    query = update.callback_query
    if query is None:
        return
    pressed = query.message.message_id if query.message is not None else None
    await _handle(
        update, context, ButtonPress(query.data), pressed_message_id=pressed, callback_query_id=query.id
    )


async def on_group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Someone added the bot to a group: say why it leaves, then leave (people write here privately)."""
    chat = update.effective_chat
    if chat is None:
        return
    _ = _catalogs(context).get("nb").gettext
    await context.bot.send_message(
        chat.id,
        _("I only answer in private chats, so I am leaving this group. Write to me directly to talk."),
    )
    await context.bot.leave_chat(chat.id)


async def on_membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The bot was added to a group or channel: leave at once."""
    change = update.my_chat_member
    if change is None or change.chat.type == "private":
        return
    if change.new_chat_member.status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR):
        await context.bot.leave_chat(change.chat.id)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure without the update (it holds ids and text); see Answerer.failed."""
    _answerer(context).failed(context.error)


async def _handle(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    event: Event,
    *,
    message_id: int | None = None,
    pressed_message_id: int | None = None,
    callback_query_id: str | None = None,
) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    user = update.effective_user
    incoming = Incoming(
        chat.id,
        event,
        update_id=update.update_id,
        message_id=message_id,
        pressed_message_id=pressed_message_id,
        callback_query_id=callback_query_id,
        language_code=user.language_code if user else None,
    )
    await _answerer(context).answer(incoming)


def _message(update: Update) -> Message:
    message = update.effective_message
    if message is None:
        raise ValueError("a message handler got an update without a message")
    return message


def _answerer(context: ContextTypes.DEFAULT_TYPE) -> Answerer:
    found = context.bot_data[ANSWERER]
    if not isinstance(found, Answerer):
        raise TypeError("bot_data holds no Answerer")
    return found


def _catalogs(context: ContextTypes.DEFAULT_TYPE) -> Catalogs:
    found = context.bot_data[CATALOGS]
    if not isinstance(found, Catalogs):
        raise TypeError("bot_data holds no Catalogs")
    return found
