"""A webhook body → what answers it, or the HTTP status it deserves (no server needed, so it is fuzzed)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from telegram import Bot, Update

from bot.telegram.conversations import Incoming
from bot.telegram.raw_updates import ordinary_incoming


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


def read_update_body(body: bytes, bot: Bot, max_bytes: int | None = None) -> Incoming | Update | BodyRejected:
    """What the webhook makes of a body: an ordinary update read directly (see raw_updates), an
    Update for PTB's handlers, 413 when it is over `max_bytes`, or 400 when it is not an Update."""
    data = decode_update_body(body, max_bytes)
    if isinstance(data, BodyRejected):
        return data
    incoming = ordinary_incoming(data)
    return incoming if incoming is not None else parse_update(data, bot)


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
