"""A webhook body → what answers it, or the HTTP status it deserves (no server needed, so it is fuzzed)."""

from __future__ import annotations

import json
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
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("update_id"), int)
        or isinstance(data["update_id"], bool)
    ):
        return NOT_AN_UPDATE
    return data


def parse_update(data: dict[str, object], bot: Bot) -> Update | BodyRejected:
    """An Update from a decoded body, or 400 when the JSON is not shaped like one."""
    try:
        return Update.de_json(data, bot)
    except Exception:
        # PTB's de_json trusts its input and fails in many ways on mistyped fields: TypeError,
        # AttributeError, KeyError, ValueError, OverflowError for far-off dates, RecursionError for
        # deeply nested replies. Any of them means this is not an Update: 400, never a 500.
        return NOT_AN_UPDATE
