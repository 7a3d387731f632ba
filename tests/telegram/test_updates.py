"""The one mapping from a Telegram update to what the bot does, for the webhook and long polling alike."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Update

from bot.engine.engine import EDITED
from bot.engine.model import ButtonPress, Command, FreeText, NonText
from bot.telegram.conversations import Incoming
from bot.telegram.updates import (
    AddedToGroup,
    BodyRejected,
    InGroup,
    command_name,
    inbound,
    read_update_body,
    update_kind,
)
from tests.support import updates as ub

KARI = ub.user(700_000_123, "Kari", username="kari_test", language_code="nn")
OLA = ub.user(700_000_456, "Ola")
DATE = 1_764_000_000
BOT_MESSAGE = ub.message(message_id=40, date=DATE, chat=ub.private_chat(KARI), text="Hva vil du vite?")
GROUP = ub.group_chat(-100, "Korpset")
STAFF = ub.supergroup_chat(-1_000_000_777, "Balansekunst stab")


def read(data: dict[str, Any], staff_chat_id: int | None = None) -> object:
    """What the bot makes of the update, read from its JSON as PTB reads it."""
    update = Update.de_json(data, None)
    assert update is not None
    return inbound(update, staff_chat_id)


def press(
    data: str, *, message: dict[str, Any] = BOT_MESSAGE, person: dict[str, Any] = KARI
) -> dict[str, Any]:
    query = ub.callback_query(
        query_id="4382bfdwdsb323b2d9", from_user=person, message_obj=message, data=data, chat_instance="-8"
    )
    return ub.callback_query_update(9, query)


def member_change(chat: dict[str, Any], status: str) -> dict[str, Any]:
    bot = ub.user(42, "Balansebot", is_bot=True)
    return ub.update(
        4,
        "my_chat_member",
        ub.chat_member_updated(
            chat=chat,
            from_user=KARI,
            date=DATE,
            old_chat_member=ub.chat_member(bot, "left"),
            new_chat_member=ub.chat_member(bot, status),
        ),
    )


def private(message_id: int = 5, **fields: Any) -> dict[str, Any]:
    return ub.message(message_id=message_id, date=DATE, chat=ub.private_chat(KARI), from_user=KARI, **fields)


READ_AS = {
    "command": (
        ub.command_update(1, message_id=5, date=DATE, from_user=KARI, command="start"),
        Incoming(KARI["id"], Command("start"), update_id=1, message_id=5, language_code="nn"),
    ),
    "command with arguments, any case": (
        ub.command_update(2, message_id=5, date=DATE, from_user=KARI, command="Telefon", args="nå"),
        Incoming(KARI["id"], Command("telefon"), update_id=2, message_id=5, language_code="nn"),
    ),
    "command to this bot by name": (
        ub.command_update(
            3, message_id=5, date=DATE, from_user=KARI, command="meny", bot_username="balansebot"
        ),
        Incoming(KARI["id"], Command("meny"), update_id=3, message_id=5, language_code="nn"),
    ),
    "text": (
        ub.text_message_update(4, message_id=6, date=DATE, from_user=OLA, text="hva er trakassering?"),
        Incoming(OLA["id"], FreeText("hva er trakassering?"), update_id=4, message_id=6),
    ),
    "a command later in the text is text": (
        ub.text_message_update(6, message_id=7, date=DATE, from_user=KARI, text="skriv /slett"),
        Incoming(KARI["id"], FreeText("skriv /slett"), update_id=6, message_id=7, language_code="nn"),
    ),
    "button": (
        press("n:hotline"),
        Incoming(
            KARI["id"],
            ButtonPress("n:hotline"),
            update_id=9,
            pressed_message_id=40,
            callback_query_id="4382bfdwdsb323b2d9",
            language_code="nn",
        ),
    ),
    "button on a message too old to be sent along": (
        press("n:menu", message={"message_id": 3, "date": 0, "chat": ub.private_chat(KARI)}),
        Incoming(
            KARI["id"],
            ButtonPress("n:menu"),
            update_id=9,
            pressed_message_id=3,
            callback_query_id="4382bfdwdsb323b2d9",
            language_code="nn",
        ),
    ),
    "sticker": (
        ub.update(7, "message", private(sticker=ub.sticker("f", "u"))),
        Incoming(KARI["id"], NonText("sticker"), update_id=7, message_id=5, language_code="nn"),
    ),
    "voice message": (
        ub.update(8, "message", private(voice=ub.voice("v", "u"))),
        Incoming(KARI["id"], NonText("voice"), update_id=8, message_id=5, language_code="nn"),
    ),
    "edited message": (
        ub.update(10, "edited_message", {**private(text="hei"), "edit_date": DATE}),
        Incoming(KARI["id"], NonText(EDITED), update_id=10, language_code="nn"),
    ),
    "message in a group": (
        ub.text_message_update(11, message_id=5, date=DATE, from_user=KARI, text="hei", chat=GROUP),
        InGroup(-100),
    ),
    "button pressed in a group": (
        press("n:menu", message=ub.message(message_id=40, date=DATE, chat=GROUP, text="Meny")),
        InGroup(-100),
    ),
    "added to a group": (member_change(GROUP, "member"), AddedToGroup(-100)),
    "made administrator of a channel": (
        member_change(ub.channel_chat(-200, "N"), "administrator"),
        AddedToGroup(-200),
    ),
    "removed from a group": (member_change(GROUP, "left"), None),
    "blocked by the reader": (member_change(ub.private_chat(KARI), "kicked"), None),
    "channel post": (
        ub.update(12, "channel_post", ub.message(message_id=5, date=DATE, chat=ub.channel_chat(-200, "N"))),
        None,
    ),
    "inline button without a message": (
        ub.callback_query_update(
            5, {"id": "1", "from": KARI, "inline_message_id": "AA", "chat_instance": "-8", "data": "n:menu"}
        ),
        None,
    ),
    "game button without data": (
        ub.callback_query_update(
            6,
            {"id": "1", "from": KARI, "message": BOT_MESSAGE, "chat_instance": "-8", "game_short_name": "x"},
        ),
        None,
    ),
    "inline query": (
        ub.update(13, "inline_query", {"id": "i", "from": KARI, "query": "hei", "offset": ""}),
        None,
    ),
}


@pytest.mark.parametrize(("data", "expected"), READ_AS.values(), ids=READ_AS.keys())
def test_what_each_kind_of_update_is_read_as(data: dict[str, Any], expected: object) -> None:
    assert read(data) == expected


def test_the_staff_chat_is_no_conversation_and_the_bot_stays() -> None:
    written = ub.text_message_update(1, message_id=5, date=DATE, from_user=KARI, text="ny lead?", chat=STAFF)
    assert read(written, STAFF["id"]) is None
    assert read(member_change(STAFF, "member"), STAFF["id"]) is None
    assert read(written, -1) == InGroup(STAFF["id"]), "any other group is left"


def test_a_private_staff_chat_is_an_ordinary_chat() -> None:
    data = ub.text_message_update(1, message_id=5, date=DATE, from_user=KARI, text="hei")
    assert read(data, KARI["id"]) == Incoming(
        KARI["id"], FreeText("hei"), update_id=1, message_id=5, language_code="nn"
    )


KINDS = {
    "command": "command",
    "text": "text",
    "button": "callback",
    "sticker": "other",
    "edited message": "edited",
    "message in a group": "group",
    "button pressed in a group": "group",
    "channel post": "group",
    "added to a group": "membership",
    "blocked by the reader": "membership",
    "inline query": "other",
}


@pytest.mark.parametrize(("name", "kind"), KINDS.items(), ids=KINDS.keys())
def test_each_kind_is_counted_from_the_same_reading(name: str, kind: str) -> None:
    update = Update.de_json(READ_AS[name][0], None)
    assert update is not None
    assert update_kind(update, inbound(update)) == kind


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("/start", "start"),
        ("/START@BalanseBot hei", "start"),
        ("/telefon\nnå", "telefon"),
        ("/", ""),
        ("", ""),
    ],
)
def test_command_names(text: str, name: str) -> None:
    assert command_name(text) == name


ENTITY = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["bot_command", "url", "bold", "mention", "hashtag"]),
        "offset": st.integers(0, 3),
        "length": st.integers(1, 8),
    }
)


@given(
    text=st.text(min_size=1, max_size=40).filter(lambda t: t.strip() != ""),
    entities=st.none() | st.lists(ENTITY, max_size=3),
)
def test_a_private_text_is_a_command_exactly_when_telegram_marks_one_at_its_start(
    text: str, entities: list[dict[str, Any]] | None
) -> None:
    data = ub.text_message_update(11, message_id=5, date=DATE, from_user=KARI, text=text, entities=[])
    if entities is not None:
        data["message"]["entities"] = entities  # an empty list too, which Telegram never sends
    incoming = read(data)
    assert isinstance(incoming, Incoming)
    marked = bool(entities) and entities[0]["type"] == "bot_command" and entities[0]["offset"] == 0
    assert incoming.event == (Command(command_name(text)) if marked else FreeText(text))


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"x" * 2000, 413),
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"update_id": true}', 400),
        (b'{"update_id": 1, "message": {"message_id": "five"}}', 400),
        (
            json.dumps(ub.update(1, "message", {**private(), "date": 253_402_300_800})).encode(),
            400,
        ),
    ],
)
def test_a_body_that_is_no_update_is_refused_with_its_status(body: bytes, status: int) -> None:
    rejected = read_update_body(body, None, max_bytes=1024)  # type: ignore[arg-type]
    assert isinstance(rejected, BodyRejected)
    assert rejected.status == status


def test_a_webhook_body_is_read_as_the_polled_update_is() -> None:
    data = ub.command_update(1, message_id=5, date=DATE, from_user=KARI, command="start")
    update = read_update_body(json.dumps(data).encode(), None)  # type: ignore[arg-type]
    assert isinstance(update, Update)
    assert inbound(update) == read(data)
