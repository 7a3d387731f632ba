"""Chat turns on PostgreSQL: one replica at a time per chat, and a redelivered update answered once."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.engine.model import ChatState
from bot.storage import migrate
from bot.storage.database import create_engine
from bot.storage.store import SqlChatStore, StoredChat
from bot.storage.turns import LockedTurns, StoreTurns, chat_turns, lock_id
from tests.databases import fresh_postgres

KEY = "ab" * 32
OTHER = "cd" * 32
NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)


@pytest.fixture
async def database() -> AsyncIterator[AsyncEngine]:
    """A migrated fresh PostgreSQL database."""
    with fresh_postgres() as url:
        await asyncio.to_thread(migrate.upgrade, url)
        engine = create_engine(url)
        try:
            yield engine
        finally:
            await engine.dispose()


async def test_a_finished_update_is_done_when_it_comes_again(database: AsyncEngine) -> None:
    turns = LockedTurns(database)
    async with turns.turn(KEY, 1001) as turn:
        assert not turn.done and turn.chat is None and not turn.sent
        await turn.record_sent(0, 77)
        await turn.finish(StoredChat(ChatState(node="telefon", lang="nb")), NOW)
    async with turns.turn(KEY, 1001) as again:
        assert again.done
    async with turns.turn(KEY, 1002) as following:
        assert not following.done
        assert following.chat is not None and following.chat.state.node == "telefon"


async def test_replies_sent_before_a_crash_are_remembered_and_state_is_not_stored(
    database: AsyncEngine,
) -> None:
    turns = LockedTurns(database)

    async def crash() -> None:
        async with turns.turn(KEY, 2001) as turn:
            await turn.record_sent(0, 501)
            await turn.record_sent(1, None)
            raise RuntimeError("replica died before storing the state")

    with pytest.raises(RuntimeError, match="replica died"):
        await crash()
    async with turns.turn(KEY, 2001) as retried:
        assert not retried.done, "the state was never stored: the update must be handled again"
        assert retried.sent == {0: 501, 1: None}
        assert retried.chat is None


async def test_one_chat_is_held_by_one_turn_at_a_time(database: AsyncEngine) -> None:
    first, second = LockedTurns(database), LockedTurns(database)  # two replicas
    order: list[str] = []
    holding = asyncio.Event()

    async def slow() -> None:
        async with first.turn(KEY, 3001):
            holding.set()
            order.append("first in")
            await asyncio.sleep(0.3)
            order.append("first out")

    async def waiting() -> None:
        await holding.wait()
        async with second.turn(KEY, 3002):
            order.append("second in")

    async def other_chat() -> None:
        await holding.wait()
        async with second.turn(OTHER, 3003):
            order.append("other chat in")

    await asyncio.gather(slow(), waiting(), other_chat())
    assert order.index("second in") > order.index("first out")
    assert order.index("other chat in") < order.index("first out"), "other chats are not held up"


async def test_forgetting_in_a_turn_deletes_the_chat(database: AsyncEngine) -> None:
    turns = LockedTurns(database)
    async with turns.turn(KEY, 4001) as turn:
        await turn.finish(StoredChat(ChatState(node="meny", lang="nn")), NOW)
    async with turns.turn(KEY, 4002) as turn:
        assert turn.chat is not None
        await turn.finish(None, NOW)
    async with turns.turn(KEY, 4003) as turn:
        assert turn.chat is None


async def test_old_handled_updates_expire(database: AsyncEngine) -> None:
    turns = LockedTurns(database)
    async with turns.turn(KEY, 5001) as turn:
        await turn.finish(StoredChat(ChatState(lang="nb")), NOW)
    assert await turns.expire(dt.datetime.now(dt.UTC) - dt.timedelta(days=2)) == 0
    assert await turns.expire(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)) == 1
    async with turns.turn(KEY, 5001) as turn:
        assert not turn.done


async def test_sqlite_gets_plain_turns_and_postgres_locked_ones(
    database: AsyncEngine, tmp_path: object
) -> None:
    assert isinstance(chat_turns(SqlChatStore(database), database), LockedTurns)
    sqlite = create_engine(f"sqlite:///{tmp_path}/x.db")
    try:
        assert isinstance(chat_turns(SqlChatStore(sqlite), sqlite), StoreTurns)
        with pytest.raises(ValueError, match="PostgreSQL"):
            LockedTurns(sqlite)
    finally:
        await sqlite.dispose()


@given(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
def test_lock_ids_fit_postgres_bigint(key: str) -> None:
    assert -(2**63) <= lock_id(key) < 2**63
