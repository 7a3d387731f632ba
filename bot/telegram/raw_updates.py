"""Ordinary updates straight from Telegram's JSON to an `Incoming`, without building PTB objects.

Almost every update is a text message or a button press in a private chat. Building PTB's `Update`
object tree for it and running it through PTB's handler dispatch cost more CPU than answering it;
the webhook maps those updates here and gives everything else (edits, stickers, groups, membership
changes, anything unusual) to PTB. What counts as a command or a button is decided as PTB's filters
and handlers decide it (tests/telegram/test_raw_updates.py compares the two on the same updates).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeGuard

from bot.engine.model import ButtonPress, Command, FreeText
from bot.telegram.conversations import Incoming

LAST_TIMESTAMP = 253_402_300_799  # 9999-12-31 23:59:59 UTC


def command_name(text: str) -> str:
    """The command of a message starting with one: "/Start@balansebot hei" → "start"."""
    return (text.split() or ["/"])[0][1:].split("@")[0].lower()


def ordinary_incoming(update: Mapping[str, object]) -> Incoming | None:
    """The Incoming of a text message or button press in a private chat; None for anything else."""
    update_id = update.get("update_id")
    if not _is_int(update_id) or len(update) != 2:
        return None
    if isinstance(message := update.get("message"), dict):
        return _message(update_id, message)
    if isinstance(query := update.get("callback_query"), dict):
        return _button(update_id, query)
    return None


def _message(update_id: int, message: dict[str, object]) -> Incoming | None:
    chat, sender, text = message.get("chat"), message.get("from"), message.get("text")
    message_id = message.get("message_id")
    if not (
        _is_int(message_id)
        and _is_timestamp(message.get("date"))
        and isinstance(text, str)
        and isinstance(chat, dict)
        and chat.get("type") == "private"
        and _is_int(chat_id := chat.get("id"))
        and _is_user(sender)
    ):
        return None
    entities = message.get("entities")
    first = entities[0] if isinstance(entities, list) and entities else None
    if isinstance(first, dict) and first.get("type") == "bot_command" and first.get("offset") == 0:
        event: Command | FreeText = Command(command_name(text))  # as PTB's filters.COMMAND decides
    elif entities is None or (isinstance(entities, list) and all(isinstance(e, dict) for e in entities)):
        event = FreeText(text)
    else:
        return None
    return Incoming(
        chat_id,
        event,
        update_id=update_id,
        message_id=message_id,
        language_code=_language(sender),
    )


def _button(update_id: int, query: dict[str, object]) -> Incoming | None:
    message, sender = query.get("message"), query.get("from")
    query_id, data = query.get("id"), query.get("data")
    if not (
        isinstance(query_id, str)
        and isinstance(data, str)
        and isinstance(query.get("chat_instance"), str)
        and _is_user(sender)
        and isinstance(message, dict)
        and _is_int(pressed := message.get("message_id"))
        and _is_timestamp(message.get("date"))
        and isinstance(chat := message.get("chat"), dict)
        and _is_int(chat_id := chat.get("id"))
        and isinstance(chat.get("type"), str)
    ):
        return None
    return Incoming(
        chat_id,
        ButtonPress(data),
        update_id=update_id,
        pressed_message_id=pressed,
        callback_query_id=query_id,
        language_code=_language(sender),
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_timestamp(value: object) -> bool:
    """A Unix time PTB can read (it turns dates into datetimes, which end with the year 9999)."""
    return _is_int(value) and 0 <= value <= LAST_TIMESTAMP


def _is_user(value: object) -> TypeGuard[dict[str, object]]:
    """Shaped like Telegram's User (the fields PTB requires of one)."""
    return (
        isinstance(value, dict)
        and _is_int(value.get("id"))
        and isinstance(value.get("is_bot"), bool)
        and isinstance(value.get("first_name"), str)
    )


def _language(user: object) -> str | None:
    code = user.get("language_code") if isinstance(user, dict) else None
    return code if isinstance(code, str) else None
