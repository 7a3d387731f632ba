"""Web conversations on every kind of turn: a message sent twice is answered once; pseudonyms apart."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot

from bot.engine import callbacks
from bot.engine.engine import Engine
from bot.engine.model import ButtonPress, Command, FreeText
from bot.stats.counter import StatsCounter
from bot.storage import migrate
from bot.storage.database import create_engine
from bot.storage.grouped_turns import GroupedTurns
from bot.storage.pseudonym import Pseudonymizer
from bot.storage.store import SqlChatStore
from bot.storage.turns import ChatTurns, LockedTurns, StoreTurns
from bot.telegram.answering import ChatOrder
from bot.telegram.auto_delete import AutoDeleter
from bot.telegram.conversations import Retention
from bot.web.conversation import WEB_DOMAIN, WebConversations
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

    def turn(session: str, turn_id: str) -> int:
        return pseudonyms.session_turn_id(WEB_DOMAIN, session, turn_id)

    assert pseudonyms.session_key(WEB_DOMAIN, "12345") != pseudonyms.chat_key(12345)
    assert pseudonyms.session_key(WEB_DOMAIN, SESSION) == pseudonyms.session_key(WEB_DOMAIN, SESSION)
    assert turn(SESSION, "a") != turn(SESSION, "b")
    assert turn(SESSION, "a") != turn(SESSION + "x", "a")
    assert -(2**63) <= turn(SESSION, "a") < 0


async def test_the_quick_exit_erases_the_conversation(
    turns: tuple[ChatTurns, AsyncEngine], engine: Engine
) -> None:
    chat_turns, database = turns
    web = WebConversations(lambda: engine, chat_turns, Pseudonymizer(KEY))
    await web.answer(SESSION, "turn-0001", Command("start"), "nb")
    await web.forget(SESSION, "exit-0001")
    store = SqlChatStore(database)
    assert await store.load(Pseudonymizer(KEY).session_key(WEB_DOMAIN, SESSION)) is None
    # What was remembered for a resend went too: it is answered with nothing, not the old answer.
    again = await web.answer(SESSION, "turn-0001", Command("start"), "nb")
    assert again.replayed and again.replies == ()


async def test_a_chosen_auto_delete_takes_the_web_conversation_then_and_not_before(
    turns: tuple[ChatTurns, AsyncEngine], engine: Engine
) -> None:
    chat_turns, database = turns
    now = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
    clock = [now]
    web = WebConversations(lambda: engine, chat_turns, Pseudonymizer(KEY), clock=lambda: clock[0])
    store = SqlChatStore(database)
    key = Pseudonymizer(KEY).session_key(WEB_DOMAIN, SESSION)
    offered = await web.answer(SESSION, "turn-0001", FreeText("slett samtalen automatisk"), "nb")
    said = " ".join(r.text for r in offered.replies)
    # What the page reads is true here: the chat's number is stored in Telegram only (below).
    assert "i Telegram også chattens nummer" in said and "På nettsiden tømmer siden seg selv" in said
    chosen = await web.answer(SESSION, "turn-0002", ButtonPress(callbacks.auto_delete(3600)), "nb")
    assert chosen.auto_delete_seconds == 3600, "the page is told, so it clears itself then"
    stored = await store.load(key)
    assert stored is not None and stored.auto_delete_at == now + dt.timedelta(hours=1)
    assert stored.auto_delete_chat is None, "nothing sealed: a web conversation has no Telegram chat"
    asked = await web.answer(SESSION, "turn-0003", FreeText("når er telefonen åpen"), "nb")
    assert asked.auto_delete_seconds is None, "a message that does not change the choice says nothing of it"

    # Never called for a web conversation: there is nothing on Telegram to delete.
    offline_bot = Bot("123456789:AAFakeTokenForOfflineTestsOnly_abcdefgh")
    retention = Retention(chat=dt.timedelta(days=30), message_ids=dt.timedelta(hours=48))
    deleter = AutoDeleter(
        offline_bot,
        store,
        database,
        Pseudonymizer(KEY),
        ChatOrder(),
        lambda: retention,
        clock=lambda: clock[0],
    )
    clock[0] = now + dt.timedelta(minutes=59)
    assert await deleter.run_once() == 0 and await store.load(key) is not None
    clock[0] = now + dt.timedelta(hours=1, seconds=1)
    assert await deleter.run_once() == 1
    assert await store.load(key) is None
    # The answers kept for a resend are gone by then too (kept ten minutes at most).
    again = await web.answer(SESSION, "turn-0003", FreeText("når er telefonen åpen"), "nb")
    assert again.replayed and again.replies == ()


async def test_turning_auto_delete_off_keeps_the_web_conversation(
    turns: tuple[ChatTurns, AsyncEngine], engine: Engine
) -> None:
    chat_turns, database = turns
    web = WebConversations(lambda: engine, chat_turns, Pseudonymizer(KEY))
    store = SqlChatStore(database)
    await web.answer(SESSION, "turn-0001", ButtonPress(callbacks.auto_delete(3600)), "nb")
    off = await web.answer(SESSION, "turn-0002", ButtonPress(callbacks.auto_delete(0)), "nb")
    assert off.auto_delete_seconds == 0
    stored = await store.load(Pseudonymizer(KEY).session_key(WEB_DOMAIN, SESSION))
    assert stored is not None and stored.auto_delete_at is None
