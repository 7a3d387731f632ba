"""Builders for Bot API JSON objects (Update, Message, User, ...) shaped as Telegram sends them.

Pure functions returning plain dicts, in the spirit of python-telegram-bot's own
``tests/auxil`` helpers.  The fake Bot API server builds every update it delivers with
these, and tests that post to a webhook directly can use them too.  Offsets and lengths
of entities are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

JSON = dict[str, Any]

# Update types Telegram delivers when allowed_updates is empty or was never set.
DEFAULT_ALLOWED_UPDATES: frozenset[str] = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
# Delivered only when named explicitly in allowed_updates.
OPT_IN_UPDATES: frozenset[str] = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
ALL_UPDATE_TYPES: frozenset[str] = DEFAULT_ALLOWED_UPDATES | OPT_IN_UPDATES


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Bot API entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _drop_none(data: JSON) -> JSON:
    return {key: value for key, value in data.items() if value is not None}


# --- users and chats --------------------------------------------------------------------


def user(
    user_id: int,
    first_name: str = "Test",
    *,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = None,
    is_bot: bool = False,
) -> JSON:
    """A ``User`` object."""
    return _drop_none(
        {
            "id": user_id,
            "is_bot": is_bot,
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "language_code": language_code,
        }
    )


def private_chat(of_user: JSON) -> JSON:
    """The ``Chat`` of a private conversation with ``of_user``."""
    return _drop_none(
        {
            "id": of_user["id"],
            "type": "private",
            "first_name": of_user.get("first_name"),
            "last_name": of_user.get("last_name"),
            "username": of_user.get("username"),
        }
    )


def group_chat(chat_id: int, title: str) -> JSON:
    """A basic group ``Chat`` (negative id)."""
    return {"id": chat_id, "type": "group", "title": title}


def supergroup_chat(chat_id: int, title: str, *, username: str | None = None) -> JSON:
    """A supergroup ``Chat`` (id below -10**12)."""
    return _drop_none({"id": chat_id, "type": "supergroup", "title": title, "username": username})


def channel_chat(chat_id: int, title: str, *, username: str | None = None) -> JSON:
    """A channel ``Chat`` (id below -10**12)."""
    return _drop_none({"id": chat_id, "type": "channel", "title": title, "username": username})


# --- entities ---------------------------------------------------------------------------

_BOT_COMMAND_RE = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")
_MENTION_RE = re.compile(r"(?<!\w)@[A-Za-z0-9_]{2,32}(?!\w)")
_HASHTAG_RE = re.compile(r"(?<![\w#])#\w*[^\W\d_]\w*(?![\w#])")
_URL_RE = re.compile(r"(?<![\w@])(?:https?|tg)://[^\s<>\"]+", re.IGNORECASE)
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?![\w@])")
_URL_TRAILING = ".,;:!?)]}'\""


def _utf16_offset(text: str, index: int) -> int:
    return utf16_len(text[:index])


def find_entities(text: str) -> list[JSON]:
    """Entities Telegram detects in plain text: bot_command, mention, hashtag, url, email."""
    # A reduced model of TDLib's find_entities: enough for commands, @mentions, #tags and
    # links in tests, not a full port.
    found: list[tuple[int, int, str]] = []
    for match in _URL_RE.finditer(text):
        end = match.end()
        while end > match.start() and text[end - 1] in _URL_TRAILING:
            end -= 1
        found.append((match.start(), end, "url"))
    for kind, pattern in (
        ("email", _EMAIL_RE),
        ("bot_command", _BOT_COMMAND_RE),
        ("mention", _MENTION_RE),
        ("hashtag", _HASHTAG_RE),
    ):
        for match in pattern.finditer(text):
            start, end = match.span()
            # An entity inside an already detected one (a path in a URL, a mention in an
            # email address) is part of that entity, not a new one.
            if any(start < other_end and other_start < end for other_start, other_end, _ in found):
                continue
            found.append((start, end, kind))
    found.sort()
    return [
        {
            "type": kind,
            "offset": _utf16_offset(text, start),
            "length": utf16_len(text[start:end]),
        }
        for start, end, kind in found
    ]


def command_text(command: str, args: str = "", *, bot_username: str | None = None) -> str:
    """The text a user's client sends for ``/command`` (optionally ``/command@bot``) and args."""
    name = command.removeprefix("/")
    text = f"/{name}@{bot_username}" if bot_username else f"/{name}"
    return f"{text} {args}" if args else text


# --- messages ---------------------------------------------------------------------------


def message(
    *,
    message_id: int,
    date: int,
    chat: JSON,
    from_user: JSON | None = None,
    text: str | None = None,
    entities: list[JSON] | None = None,
    **extra: Any,
) -> JSON:
    """A ``Message``; ``entities`` default to those Telegram detects, ``extra`` adds fields."""
    data: JSON = {"message_id": message_id, "date": date, "chat": chat}
    if from_user is not None:
        data["from"] = from_user
    if text is not None:
        data["text"] = text
        detected = find_entities(text) if entities is None else entities
        if detected:
            data["entities"] = detected
    data.update(_drop_none(extra))
    return data


def sticker(
    file_id: str,
    file_unique_id: str,
    *,
    emoji: str = "👍",
    width: int = 512,
    height: int = 512,
    is_animated: bool = False,
    is_video: bool = False,
    set_name: str | None = "TestStickers",
) -> JSON:
    """A regular ``Sticker``."""
    return _drop_none(
        {
            "file_id": file_id,
            "file_unique_id": file_unique_id,
            "type": "regular",
            "width": width,
            "height": height,
            "is_animated": is_animated,
            "is_video": is_video,
            "emoji": emoji,
            "set_name": set_name,
            "file_size": 12345,
        }
    )


def photo_sizes(file_id: str, file_unique_id: str) -> list[JSON]:
    """The ``PhotoSize`` array Telegram attaches to a photo message, smallest first."""
    sizes = ((90, 67, 1200), (320, 240, 14000), (800, 600, 52000), (1280, 960, 98000))
    return [
        {
            "file_id": f"{file_id}-{width}",
            "file_unique_id": f"{file_unique_id}-{width}",
            "width": width,
            "height": height,
            "file_size": size,
        }
        for width, height, size in sizes
    ]


def voice(file_id: str, file_unique_id: str, *, duration: int = 3) -> JSON:
    """A ``Voice`` note."""
    return {
        "file_id": file_id,
        "file_unique_id": file_unique_id,
        "duration": duration,
        "mime_type": "audio/ogg",
        "file_size": 4000 * max(duration, 1),
    }


# --- chat members -----------------------------------------------------------------------

_ADMIN_RIGHTS_FALSE = (
    "can_be_edited",
    "is_anonymous",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
_RESTRICTED_FALSE = (
    "is_member",
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)
CHAT_MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")


def chat_member(member: JSON, status: str, **fields: Any) -> JSON:
    """A ``ChatMember`` with every field its status requires; ``fields`` override."""
    # Administrators can manage the chat and delete messages; every other right is false.
    if status not in CHAT_MEMBER_STATUSES:
        raise ValueError(f"unknown chat member status {status!r}")
    data: JSON = {"status": status, "user": member}
    if status == "creator":
        data["is_anonymous"] = False
    elif status == "administrator":
        data.update(dict.fromkeys(_ADMIN_RIGHTS_FALSE, False))
        data.update(can_manage_chat=True, can_delete_messages=True)
    elif status == "restricted":
        data.update(dict.fromkeys(_RESTRICTED_FALSE, False))
        data["until_date"] = 0
    elif status == "kicked":
        data["until_date"] = 0
    data.update(fields)
    return data


def chat_member_updated(
    *, chat: JSON, from_user: JSON, date: int, old_chat_member: JSON, new_chat_member: JSON
) -> JSON:
    """A ``ChatMemberUpdated``."""
    return {
        "chat": chat,
        "from": from_user,
        "date": date,
        "old_chat_member": old_chat_member,
        "new_chat_member": new_chat_member,
    }


# --- callback queries -------------------------------------------------------------------


def callback_query(
    *, query_id: str, from_user: JSON, message_obj: JSON, data: str, chat_instance: str
) -> JSON:
    """A ``CallbackQuery`` for a press of a callback button on ``message_obj``."""
    return {
        "id": query_id,
        "from": from_user,
        "message": message_obj,
        "chat_instance": chat_instance,
        "data": data,
    }


# --- updates ----------------------------------------------------------------------------


def update(update_id: int, kind: str, payload: JSON) -> JSON:
    """An ``Update`` carrying ``payload`` under the field ``kind`` (``message``, ...)."""
    if kind not in ALL_UPDATE_TYPES:
        raise ValueError(f"unknown update type {kind!r}")
    return {"update_id": update_id, kind: payload}


def update_kind(data: JSON) -> str:
    """The update type of an ``Update`` dict: its one field besides ``update_id``."""
    kinds = [key for key in data if key != "update_id"]
    if len(kinds) != 1:
        raise ValueError(f"an Update carries exactly one object, got {kinds}")
    return kinds[0]


def text_message_update(
    update_id: int,
    *,
    message_id: int,
    date: int,
    from_user: JSON,
    text: str,
    chat: JSON | None = None,
    entities: Iterable[JSON] | None = None,
) -> JSON:
    """A ``message`` update with a text message (private chat with the sender by default)."""
    msg = message(
        message_id=message_id,
        date=date,
        chat=chat if chat is not None else private_chat(from_user),
        from_user=from_user,
        text=text,
        entities=list(entities) if entities is not None else None,
    )
    return update(update_id, "message", msg)


def command_update(
    update_id: int,
    *,
    message_id: int,
    date: int,
    from_user: JSON,
    command: str,
    args: str = "",
    chat: JSON | None = None,
    bot_username: str | None = None,
) -> JSON:
    """A ``message`` update with ``/command args``, carrying its ``bot_command`` entity."""
    text = command_text(command, args, bot_username=bot_username)
    return text_message_update(
        update_id, message_id=message_id, date=date, from_user=from_user, text=text, chat=chat
    )


def callback_query_update(update_id: int, query: JSON) -> JSON:
    """A ``callback_query`` update."""
    return update(update_id, "callback_query", query)
