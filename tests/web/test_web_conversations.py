"""Web conversations on every kind of turn: a message sent twice is answered once; pseudonyms apart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.engine.engine import Engine
from bot.engine.model import Command, FreeText
from bot.stats.counter import StatsCounter
from bot.storage import migrate
from bot.storage.database import create_engine
from bot.storage.grouped_turns import GroupedTurns
from bot.storage.pseudonym import Pseudonymizer
from bot.storage.store import SqlChatStore
from bot.storage.turns import ChatTurns, LockedTurns, StoreTurns
from bot.web.conversation import WebConversations
from tests.databases import fresh_postgres

KEY = b"web-conversation-tests-pseudonym-key"
SESSION = "0123456789abcdef01234567"


@pytest.fixture(params=["sqlite", "locked", "grouped"])
async def turns(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[ChatTurns, AsyncEngine]]:
    """Turns of each kind `serve` uses: the single process on SQLite, and replicas' on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/web.db"
        await asyncio.to_thread(migrate.upgrade, url)
        database = create_engine(url)
        yield StoreTurns(SqlChatStore(database)), database
        await database.dispose()
        return
    with fresh_postgres() as url:
        await asyncio.to_thread(migrate.upgrade, url)
        database = create_engine(url)
        made: ChatTurns = LockedTurns(database) if request.param == "locked" else GroupedTurns(database)
        try:
            yield made, database
        finally:
            await made.close()
            await database.dispose()


async def test_a_message_sent_again_is_answered_once(
    turns: tuple[ChatTurns, AsyncEngine], engine: Engine
) -> None:
    chat_turns, database = turns
    stats = StatsCounter()
    web = WebConversations(lambda: engine, chat_turns, Pseudonymizer(KEY), stats=stats)
    first = await web.answer(SESSION, "turn-0001", Command("start"), "nn")
    assert first.lang == "nn" and first.replies and not first.replayed
    asked = await web.answer(SESSION, "turn-0002", FreeText("når er telefonen åpen"), "nn")
    again = await web.answer(SESSION, "turn-0002", FreeText("når er telefonen åpen"), "nn")
    assert again.replayed and again.replies == asked.replies, "the same answer, not a second one"
    assert sum(stats.take().values()) == 2, "counted once per message, not once more for the resend"
    if database.dialect.name == "postgresql":
        async with database.connect() as conn:
            ids = (await conn.execute(text("SELECT update_id FROM handled_update"))).scalars().all()
        assert len(ids) == 2 and all(i < 0 for i in ids), "web turn ids never meet Telegram's (positive)"


def test_a_web_chat_never_shares_a_pseudonym_with_a_telegram_chat() -> None:
    pseudonyms = Pseudonymizer(KEY)
    assert pseudonyms.web_chat_key("12345") != pseudonyms.chat_key(12345)
    assert pseudonyms.web_chat_key(SESSION) == pseudonyms.web_chat_key(SESSION)
    assert pseudonyms.web_turn_id(SESSION, "a") != pseudonyms.web_turn_id(SESSION, "b")
    assert pseudonyms.web_turn_id(SESSION, "a") != pseudonyms.web_turn_id(SESSION + "x", "a")
    assert -(2**63) <= pseudonyms.web_turn_id(SESSION, "a") < 0


async def test_the_quick_exit_erases_the_conversation(
    turns: tuple[ChatTurns, AsyncEngine], engine: Engine
) -> None:
    chat_turns, database = turns
    web = WebConversations(lambda: engine, chat_turns, Pseudonymizer(KEY))
    await web.answer(SESSION, "turn-0001", Command("start"), "nb")
    await web.forget(SESSION, "exit-0001")
    store = SqlChatStore(database)
    assert await store.load(Pseudonymizer(KEY).web_chat_key(SESSION)) is None
    # What was remembered for a resend went too: it is answered with nothing, not the old answer.
    again = await web.answer(SESSION, "turn-0001", Command("start"), "nb")
    assert again.replayed and again.replies == ()
