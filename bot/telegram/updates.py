"""A Telegram update → what the bot does with it: the one mapping, for the webhook and long polling alike.

Here alone is decided what a command, a text, a button press and everything else are; the
webhook reads its body into PTB's `Update` (`read_update_body`) and long polling gets one from
PTB's Updater, and both hand it to `inbound`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from telegram import Bot, Message, MessageEntity, Update
from telegram.constants import ChatMemberStatus, ChatType

from bot.engine.engine import EDITED
from bot.engine.model import ButtonPress, Command, Event, FreeText, NonText
from bot.telegram.conversations import Incoming

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


@dataclass(frozen=True)
class InGroup:
    """Someone wrote, or pressed a button, in a group the bot is in: it says why it leaves, and leaves."""

    chat_id: int


@dataclass(frozen=True)
class AddedToGroup:
    """The bot was made a member of a group or channel: it leaves at once."""

    chat_id: int


Inbound = Incoming | InGroup | AddedToGroup


def inbound(update: Update, staff_chat_id: int | None = None) -> Inbound | None:
    """What the bot does with the update; None: nothing (the staff chat, a channel post, a game …)."""
    chat = update.effective_chat
    if chat is None:
        return None  # an inline query or a button under an inline message: the bot offers neither
    if chat.type != ChatType.PRIVATE:
        if chat.id == staff_chat_id:
            return None  # staff writing in their group is no conversation; the bot stays there
        if (change := update.my_chat_member) is not None:
            joined = change.new_chat_member.status in (
                ChatMemberStatus.MEMBER,
                ChatMemberStatus.ADMINISTRATOR,
            )
            return AddedToGroup(chat.id) if joined else None
        if chat.type == ChatType.CHANNEL:
            return None
        return InGroup(chat.id) if update.message or update.callback_query or update.edited_message else None
    user = update.effective_user
    language = user.language_code if user is not None else None
    if (query := update.callback_query) is not None:
        if query.data is None or query.message is None:
            return None  # a game's button
        return Incoming(
            chat.id,
            ButtonPress(query.data),
            update_id=update.update_id,
            pressed_message_id=query.message.message_id,
            callback_query_id=query.id,
            language_code=language,
        )
    if update.edited_message is not None:
        # Answered kindly, never re-routed as if it were new.
        return Incoming(chat.id, NonText(EDITED), update_id=update.update_id, language_code=language)
    message = update.message
    if message is None:
        return None  # the reader blocked or unblocked the bot, and the like
    return Incoming(
        chat.id,
        message_event(message),
        update_id=update.update_id,
        message_id=message.message_id,
        language_code=language,
    )


def message_event(message: Message) -> Event:
    """A command (a message starting with one, as Telegram marks it), a typed text, or something else."""
    text = message.text
    entities = message.entities
    if (
        text is not None
        and entities
        and entities[0].type == MessageEntity.BOT_COMMAND
        and entities[0].offset == 0
    ):
        return Command(command_name(text))
    if text is not None:
        return FreeText(text)
    return NonText(next((kind for kind in ATTACHMENT_KINDS if getattr(message, kind, None)), "other"))


def command_name(text: str) -> str:
    """The command of a message starting with one: "/Start@balansebot hei" → "start"."""
    return (text.split() or ["/"])[0][1:].split("@")[0].lower()


def update_kind(update: Update, read: Inbound | None) -> str:
    """What kind of update this is, as counted in `balansebot_updates_total` (never who or what)."""
    match read:
        case Incoming(event=Command()):
            return "command"
        case Incoming(event=FreeText()):
            return "text"
        case Incoming(event=ButtonPress()):
            return "callback"
        case Incoming(event=NonText(kind=kind)):
            return "edited" if kind == EDITED else "other"
        case InGroup():
            return "group"
        case AddedToGroup():
            return "membership"
    if update.my_chat_member is not None:
        return "membership"
    chat = update.effective_chat
    return (
        "group" if chat is not None and chat.type != ChatType.PRIVATE else "other"
    )  # the staff chat, a channel


@dataclass(frozen=True)
class BodyRejected:
    """Why a webhook body cannot be handled: the HTTP status to answer with and a short reason."""

    status: int
    message: str


TOO_LARGE = BodyRejected(413, "request body too large")
NOT_JSON = BodyRejected(400, "the body is not JSON")
NOT_AN_UPDATE = BodyRejected(400, "the body is not a Telegram Update")
# Telegram's update ids are positive and far below this; the database stores them as BIGINT.
MAX_UPDATE_ID = 2**63 - 1
# A JSON escape of a surrogate (\ud800-\udfff): the only way a lone one can reach a decoded body.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def read_update_body(body: bytes, bot: Bot, max_bytes: int | None = None) -> Update | BodyRejected:
    """The Update a webhook body holds; 413 when it is over `max_bytes`, 400 when it is no Update."""
    data = decode_update_body(body, max_bytes)
    if isinstance(data, BodyRejected):
        return data
    return parse_update(data, bot)


def decode_update_body(body: bytes, max_bytes: int | None = None) -> dict[str, object] | BodyRejected:
    """The JSON object of a webhook body with an update_id; 413 or 400 as read_update_body."""
    if max_bytes is not None and len(body) > max_bytes:
        return TOO_LARGE
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        # ValueError covers bad JSON, bad UTF-8/16/32 and over-long integers; RecursionError
        # is what the json module raises for deeply nested arrays or objects.
        return NOT_JSON
    if not isinstance(data, dict):
        return NOT_AN_UPDATE
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool) or not 0 <= update_id <= MAX_UPDATE_ID:
        return NOT_AN_UPDATE
    if SURROGATE_ESCAPE.search(body):
        try:
            return without_lone_surrogates(data)
        except RecursionError:
            return NOT_JSON
    return data


def without_lone_surrogates(data: dict[str, object]) -> dict[str, object]:
    """The body with each lone surrogate in its texts replaced by U+FFFD.

    JSON allows "\\ud800" on its own, Telegram never sends it, and no database or Bot API call can
    store or send it: read as it is, the update would fail every time it is delivered again.
    """

    def clean(value: object) -> object:
        if isinstance(value, str):
            return LONE_SURROGATE.sub("\ufffd", value)
        if isinstance(value, list):
            return [clean(item) for item in value]
        if isinstance(value, dict):
            return {clean(key): clean(item) for key, item in value.items()}
        return value

    return {str(clean(key)): clean(value) for key, value in data.items()}


def parse_update(data: dict[str, object], bot: Bot) -> Update | BodyRejected:
    """An Update from a decoded body, or 400 when the JSON is not shaped like one."""
    try:
        update = Update.de_json(data, bot)
    except Exception:
        # PTB's de_json trusts its input and fails in many ways on mistyped fields: TypeError,
        # AttributeError, KeyError, ValueError, OverflowError for far-off dates, RecursionError for
        # deeply nested replies. Any of them means this is not an Update: 400, never a 500.
        return NOT_AN_UPDATE
    # Telegram's messages always name their chat; PTB reads one without and the handlers then fail
    # on it, every time it is delivered again.
    query_message = update.callback_query.message if update.callback_query is not None else None
    messages = (update.message, update.edited_message, update.channel_post, update.edited_channel_post)
    if any(m is not None and m.chat is None for m in (*messages, query_message)):
        return NOT_AN_UPDATE
    # Nor does PTB check types: ids must be numbers (a chat's updates are ordered by its id, message
    # ids are stored for /slett), texts and button data strings, or the handlers fail on them at
    # every delivery (a stored message id "x" would fail every later update of the chat).
    ids = [who.id for who in (update.effective_chat, update.effective_user) if who is not None]
    ids += [m.message_id for m in (*messages, query_message) if m is not None]
    texts = [m.text for m in messages if m is not None]
    if update.callback_query is not None:
        texts.append(update.callback_query.data)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids) or not all(
        t is None or isinstance(t, str) for t in texts
    ):
        return NOT_AN_UPDATE
    return update
