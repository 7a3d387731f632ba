"""Chat turns on PostgreSQL: one replica at a time per chat, and a redelivered update answered once.

Every behaviour holds for both kinds of locked turns: `LockedTurns` (a connection per turn) and
`GroupedTurns` (many chats' turns sharing one connection's round trips).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.engine.model import ChatState
from bot.storage import migrate
from bot.storage.database import create_engine
from bot.storage.grouped_turns import GroupedTurns, LostLockError, chat_turns
from bot.storage.store import SqlChatStore, StoredChat
from bot.storage.turns import ChatTurn, ChatTurns, LockedTurns, StoreTurns, lock_id
from tests.databases import fresh_postgres

KEY = "ab" * 32
OTHER = "cd" * 32
NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)


Replica = Callable[[], ChatTurns]


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


@pytest.fixture(params=[LockedTurns, GroupedTurns])
async def replica(request: pytest.FixtureRequest, database: AsyncEngine) -> AsyncIterator[Replica]:
    """Makes one replica's turns of either kind; each is closed afterwards."""
    made: list[ChatTurns] = []

    def make() -> ChatTurns:
        made.append(request.param(database))
        return made[-1]

    yield make
    for turns in made:
        await turns.close()


async def test_a_finished_update_is_done_when_it_comes_again(replica: Replica) -> None:
    turns = replica()
    async with turns.turn(KEY, 1001) as turn:
        assert not turn.done and turn.chat is None and not turn.sent
        await turn.record_sent(0, 77)
        await turn.finish(StoredChat(ChatState(node="telefon", lang="nb")), NOW)
    async with turns.turn(KEY, 1001) as again:
        assert again.done
    async with turns.turn(KEY, 1002) as following:
        assert not following.done
        assert following.chat is not None and following.chat.state.node == "telefon"


async def test_replies_sent_before_a_crash_are_remembered_and_state_is_not_stored(replica: Replica) -> None:
    turns = replica()

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


async def test_the_last_reply_is_recorded_with_the_new_state(replica: Replica) -> None:
    turns = replica()

    async def crash_before_storing() -> None:
        async with turns.turn(KEY, 2101) as turn:
            await turn.record_sent(0, 601)
            await turn.record_sent(1, 602, last=True)
            raise RuntimeError("replica died before storing the state")

    with pytest.raises(RuntimeError, match="replica died"):
        await crash_before_storing()
    async with turns.turn(KEY, 2101) as retried:
        assert retried.sent.get(0) == 601, "a reply another followed was recorded at once"
        await turn_again(retried)
    async with turns.turn(KEY, 2101) as again:
        assert again.done and again.sent == {0: 601, 1: 603}


async def turn_again(turn: ChatTurn) -> None:
    """Send the missing reply and store the state."""
    await turn.record_sent(1, 603, last=True)
    await turn.finish(StoredChat(ChatState(node="telefon", lang="nb")), NOW)


async def test_one_chat_is_held_by_one_turn_at_a_time(replica: Replica) -> None:
    first, second = replica(), replica()  # two replicas
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


async def test_forgetting_in_a_turn_deletes_the_chat(replica: Replica) -> None:
    turns = replica()
    async with turns.turn(KEY, 4001) as turn:
        await turn.finish(StoredChat(ChatState(node="meny", lang="nn")), NOW)
    async with turns.turn(KEY, 4002) as turn:
        assert turn.chat is not None
        await turn.finish(None, NOW)
    async with turns.turn(KEY, 4003) as turn:
        assert turn.chat is None


async def test_old_handled_updates_expire(replica: Replica) -> None:
    turns = replica()
    async with turns.turn(KEY, 5001) as turn:
        await turn.finish(StoredChat(ChatState(lang="nb")), NOW)
    assert await turns.expire(dt.datetime.now(dt.UTC) - dt.timedelta(days=2)) == 0
    assert await turns.expire(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)) == 1
    async with turns.turn(KEY, 5001) as turn:
        assert not turn.done


async def test_sqlite_gets_plain_turns_and_postgres_locked_ones(
    database: AsyncEngine, tmp_path: object
) -> None:
    assert isinstance(chat_turns(SqlChatStore(database), database), GroupedTurns)
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


def plain_url(database: AsyncEngine) -> str:
    """The database's URL for psycopg itself."""
    return database.url.set(drivername="postgresql").render_as_string(hide_password=False)


async def test_many_chats_turns_share_their_round_trips(database: AsyncEngine) -> None:
    turns = GroupedTurns(database)
    chats = [f"{i:016x}" * 4 for i in range(1, 41)]

    async def answer(number: int, key: str) -> None:
        async with turns.turn(key, 7000 + number) as turn:
            await turn.record_sent(0, number)
            await turn.finish(StoredChat(ChatState(node="telefon", lang="nb")), NOW)

    try:
        await asyncio.gather(*(answer(number, key) for number, key in enumerate(chats)))
        assert turns.round_trips < len(chats), "40 turns, 3 steps each, in a handful of round trips"
        for number, key in enumerate(chats):
            async with turns.turn(key, 7000 + number) as again:
                assert again.done and again.sent == {0: number}
            async with turns.turn(key, 8000 + number) as following:
                assert following.chat is not None and following.chat.state.node == "telefon"
    finally:
        await turns.close()


async def end_connections(database: AsyncEngine) -> None:
    """End every session on the database: as a restarted server or a broken network would."""
    async with await psycopg.AsyncConnection.connect(plain_url(database), autocommit=True) as admin:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


async def test_a_broken_shared_connection_fails_its_turns_and_lets_their_chats_go(
    database: AsyncEngine,
) -> None:
    turns, other = GroupedTurns(database), GroupedTurns(database)  # two replicas

    async def broken_mid_turn() -> None:
        async with turns.turn(KEY, 6001) as turn:
            await end_connections(database)
            await turn.record_sent(0, 11)

    try:
        with pytest.raises(OperationalError):
            await broken_mid_turn()
        async with asyncio.timeout(5), other.turn(KEY, 6001) as taken:
            assert not taken.done and not taken.sent, "nothing was recorded on the broken connection"
            await taken.finish(StoredChat(ChatState(node="meny", lang="nb")), NOW)
        async with turns.turn(KEY, 6002) as later:  # on a new connection
            assert later.chat is not None and later.chat.state.node == "meny"
            await later.finish(StoredChat(ChatState(node="telefon", lang="nb")), NOW)
    finally:
        await turns.close()
        await other.close()


async def test_a_turn_whose_lock_died_stores_nothing_even_on_a_new_connection(database: AsyncEngine) -> None:
    turns = GroupedTurns(database)

    async def stale_turn() -> None:
        async with turns.turn(KEY, 6101) as stale:
            await end_connections(database)
            with pytest.raises(OperationalError):  # another turn's round finds the connection broken
                async with turns.turn(OTHER, 6102):
                    pass
            async with turns.turn(OTHER, 6103) as unrelated:  # the next one gets a new connection
                await unrelated.finish(StoredChat(ChatState(lang="nb")), NOW)
            await stale.finish(StoredChat(ChatState(node="meny", lang="nb")), NOW)

    try:
        with pytest.raises(LostLockError):
            await stale_turn()
        async with turns.turn(KEY, 6101) as retried:
            assert not retried.done and retried.chat is None, "the turn whose lock died stored nothing"
    finally:
        await turns.close()
