"""The webhook's direct path reads ordinary updates as PTB's handlers do, and leaves the rest to PTB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import Application, filters

from bot.engine.model import ButtonPress, Command, FreeText
from bot.i18n import Catalogs
from bot.telegram import handlers
from bot.telegram.answering import Answerer
from bot.telegram.conversations import Incoming
from bot.telegram.raw_updates import command_name, ordinary_incoming
from tests.support import updates as ub
from tests.support.fake_bot_api import FakeBotApi

KARI = ub.user(700_000_123, "Kari", username="kari_test", language_code="nn")
OLA = ub.user(700_000_456, "Ola")
DATE = 1_764_000_000
BOT_MESSAGE = ub.message(message_id=40, date=DATE, chat=ub.private_chat(KARI), text="Hva vil du vite?")


class Recorder(Answerer):
    """Stands where the real Answerer stands behind PTB's handlers, and keeps what it was given."""

    def __init__(self) -> None:
        self.seen: list[Incoming] = []

    async def answer(self, incoming: Incoming) -> None:
        """Record instead of answering."""
        self.seen.append(incoming)


@pytest.fixture
async def through_ptb(catalogs: Catalogs) -> AsyncIterator[Any]:
    """What PTB's handlers hand on for an update (None: no handler answered it)."""
    recorder = Recorder()
    async with FakeBotApi() as fake:
        application = Application.builder().token(fake.token).base_url(fake.base_url).updater(None).build()
        handlers.register(application, recorder, catalogs)

        async def handle(data: dict[str, Any]) -> Incoming | None:
            recorder.seen.clear()
            await application.process_update(Update.de_json(data, application.bot))
            assert len(recorder.seen) <= 1
            return recorder.seen[0] if recorder.seen else None

        async with application:
            yield handle


def press(
    data: str, *, message: dict[str, Any] = BOT_MESSAGE, person: dict[str, Any] = KARI
) -> dict[str, Any]:
    query = ub.callback_query(
        query_id="4382bfdwdsb323b2d9", from_user=person, message_obj=message, data=data, chat_instance="-8"
    )
    return ub.callback_query_update(9, query)


ORDINARY = {
    "command": ub.command_update(1, message_id=5, date=DATE, from_user=KARI, command="start"),
    "command with arguments": ub.command_update(
        2, message_id=5, date=DATE, from_user=KARI, command="Telefon", args="nå"
    ),
    "command to this bot by name": ub.command_update(
        3, message_id=5, date=DATE, from_user=KARI, command="meny", bot_username="balansebot"
    ),
    "text": ub.text_message_update(4, message_id=6, date=DATE, from_user=OLA, text="hva er trakassering?"),
    "text with a link": ub.text_message_update(
        5, message_id=6, date=DATE, from_user=KARI, text="se https://balansekunst.no"
    ),
    "a command later in the text": ub.text_message_update(
        6, message_id=7, date=DATE, from_user=KARI, text="skriv /slett"
    ),
    "button": press("n:hotline"),
    "button on an old message": press(
        "n:menu", message={"message_id": 3, "date": 0, "chat": ub.private_chat(KARI)}
    ),
    "forged button data": press("\U0001f600" * 30),
}


@pytest.mark.parametrize("data", ORDINARY.values(), ids=ORDINARY.keys())
async def test_ordinary_updates_are_read_as_ptb_reads_them(through_ptb: Any, data: dict[str, Any]) -> None:
    direct = ordinary_incoming(data)
    assert direct is not None, "an ordinary update takes the direct path"
    assert direct == await through_ptb(data)


def test_what_the_direct_path_reads() -> None:
    assert ordinary_incoming(ORDINARY["command with arguments"]) == Incoming(
        KARI["id"], Command("telefon"), update_id=2, message_id=5, language_code="nn"
    )
    assert ordinary_incoming(ORDINARY["text"]) == Incoming(
        OLA["id"], FreeText("hva er trakassering?"), update_id=4, message_id=6
    )
    assert ordinary_incoming(ORDINARY["button"]) == Incoming(
        KARI["id"],
        ButtonPress("n:hotline"),
        update_id=9,
        pressed_message_id=40,
        callback_query_id="4382bfdwdsb323b2d9",
        language_code="nn",
    )


GROUP = ub.group_chat(-100, "Korpset")
NOT_ORDINARY = {
    "edited message": ub.update(
        1,
        "edited_message",
        {
            **ub.message(message_id=5, date=DATE, chat=ub.private_chat(KARI), from_user=KARI, text="hei"),
            "edit_date": DATE,
        },
    ),
    "sticker": ub.update(
        2,
        "message",
        ub.message(
            message_id=5, date=DATE, chat=ub.private_chat(KARI), from_user=KARI, sticker=ub.sticker("f", "u")
        ),
    ),
    "group message": ub.text_message_update(
        3, message_id=5, date=DATE, from_user=KARI, text="hei", chat=GROUP
    ),
    "membership": ub.update(
        4,
        "my_chat_member",
        ub.chat_member_updated(
            chat=GROUP,
            from_user=KARI,
            date=DATE,
            old_chat_member=ub.chat_member(KARI, "left"),
            new_chat_member=ub.chat_member(KARI, "member"),
        ),
    ),
    "inline button without a message": ub.callback_query_update(
        5, {"id": "1", "from": KARI, "inline_message_id": "AA", "chat_instance": "-8", "data": "n:menu"}
    ),
    "game button without data": ub.callback_query_update(
        6, {"id": "1", "from": KARI, "message": BOT_MESSAGE, "chat_instance": "-8", "game_short_name": "x"}
    ),
    "message without a sender": ub.update(
        7, "message", ub.message(message_id=5, date=DATE, chat=ub.private_chat(KARI), text="hei")
    ),
    "message without a date": ub.update(
        8, "message", {"message_id": 5, "chat": ub.private_chat(KARI), "from": KARI, "text": "hei"}
    ),
    "chat id as text": ub.update(
        9,
        "message",
        {"message_id": 5, "date": DATE, "chat": {"id": "1", "type": "private"}, "from": KARI, "text": "hei"},
    ),
    "a date past year 9999": ub.update(
        12, "message", {**ORDINARY["text"]["message"], "date": 253_402_300_800}
    ),
    "a pressed message dated before 1970": press("n:menu", message={**BOT_MESSAGE, "date": -1}),
    "boolean update id": {"update_id": True, "message": ORDINARY["text"]["message"]},
    "two objects in one update": {**ORDINARY["text"], "edited_message": ORDINARY["text"]["message"]},
    "entities not objects": ub.update(13, "message", {**ORDINARY["text"]["message"], "entities": [1]}),
    "entities not a list": ub.update(
        10, "message", {**ORDINARY["text"]["message"], "entities": "bot_command"}
    ),
}


@pytest.mark.parametrize("data", NOT_ORDINARY.values(), ids=NOT_ORDINARY.keys())
def test_anything_else_is_left_to_ptb(data: dict[str, Any]) -> None:
    assert ordinary_incoming(data) is None


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
def test_any_private_text_is_a_command_exactly_when_ptb_says_so(
    text: str, entities: list[dict[str, Any]] | None
) -> None:
    data = ub.text_message_update(11, message_id=5, date=DATE, from_user=KARI, text=text, entities=[])
    if entities is not None:
        data["message"]["entities"] = entities  # an empty list too, which Telegram never sends
    incoming = ordinary_incoming(data)
    assert incoming is not None
    update = Update.de_json(data, None)
    if filters.COMMAND.check_update(update):  # what routes an update to handlers.on_command
        assert incoming.event == Command(command_name(text))
    else:
        assert incoming.event == FreeText(text)
