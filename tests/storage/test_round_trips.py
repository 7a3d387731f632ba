"""Round trips per turn on PostgreSQL, counted on the wire, so they cannot grow unnoticed.

The bot talks to the real server through a TCP proxy that counts the server's ReadyForQuery
messages: the server sends exactly one at the end of each round trip (a simple query, or a Sync
that ends a pipeline), whatever the driver or the library above it does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from bot.engine.model import ChatState
from bot.storage import migrate
from bot.storage.database import create_engine
from bot.storage.grouped_turns import GroupedTurns
from bot.storage.store import StoredChat
from tests.databases import fresh_postgres

# The chat's lock with its rows; then the new state, the done mark, the reply's record and the release.
ROUND_TRIPS_PER_ORDINARY_TURN = 2
NOW = dt.datetime(2026, 12, 3, 12, tzinfo=dt.UTC)
READY_FOR_QUERY = ord("Z")


class CountingProxy:
    """Forwards connections to PostgreSQL and counts the round trips the server ends."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self.round_trips = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CountingProxy:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _connection(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        server_reader, server_writer = await asyncio.open_connection(*self._upstream)
        await asyncio.gather(
            self._pipe(client_reader, server_writer, count=False),
            self._pipe(server_reader, client_writer, count=True),
            return_exceptions=True,
        )

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, count: bool) -> None:
        pending = b""
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
                if count:  # the server's messages: one type byte, then a length that counts itself
                    pending += data
                    while len(pending) >= 5 and len(pending) >= 1 + int.from_bytes(pending[1:5], "big"):
                        self.round_trips += pending[0] == READY_FOR_QUERY
                        pending = pending[1 + int.from_bytes(pending[1:5], "big") :]
        finally:
            sink.close()


@pytest.fixture
async def counted() -> AsyncIterator[tuple[CountingProxy, GroupedTurns]]:
    """Grouped turns on a fresh database, every byte through the counting proxy."""
    with fresh_postgres() as url:
        await asyncio.to_thread(migrate.upgrade, url)
        direct = make_url(url)
        async with CountingProxy(direct.host or "127.0.0.1", direct.port or 5432) as proxy:
            # No TLS or GSS negotiation, so every byte from the server is a protocol message.
            proxied = direct.set(port=proxy.port, query={"sslmode": "disable", "gssencmode": "disable"})
            engine = create_engine(proxied.render_as_string(hide_password=False))
            turns = GroupedTurns(engine)
            try:
                yield proxy, turns
            finally:
                await turns.close()
                await engine.dispose()


async def ordinary_turn(turns: GroupedTurns, key: str, update_id: int, replies: int = 1) -> None:
    """What the bot does for an ordinary update: lock and read, send the replies, store."""
    async with turns.turn(key, update_id) as turn:
        for index in range(replies):
            await turn.record_sent(index, 100 + index, last=index == replies - 1)
        await turn.finish(StoredChat(ChatState(node="telefon", lang="nb")), NOW)


async def test_an_ordinary_turn_takes_two_round_trips(counted: tuple[CountingProxy, GroupedTurns]) -> None:
    proxy, turns = counted
    await ordinary_turn(turns, "ab" * 32, 1)  # logs in, and SQLAlchemy's first-connect queries
    before = proxy.round_trips
    await ordinary_turn(turns, "ab" * 32, 2)
    assert proxy.round_trips - before == ROUND_TRIPS_PER_ORDINARY_TURN
    before = proxy.round_trips
    await ordinary_turn(turns, "cd" * 32, 3, replies=3)
    assert proxy.round_trips - before == ROUND_TRIPS_PER_ORDINARY_TURN + 2, (
        "one more for each reply another follows"
    )


async def test_a_redelivered_update_costs_its_lock_and_release(
    counted: tuple[CountingProxy, GroupedTurns],
) -> None:
    proxy, turns = counted
    await ordinary_turn(turns, "ab" * 32, 1)
    before = proxy.round_trips
    async with turns.turn("ab" * 32, 1) as again:
        assert again.done
    await asyncio.sleep(0.1)  # the release goes out after the block, with whatever comes next
    assert proxy.round_trips - before == 2


async def test_turns_at_the_same_time_share_round_trips(counted: tuple[CountingProxy, GroupedTurns]) -> None:
    proxy, turns = counted
    await ordinary_turn(turns, "ab" * 32, 1)
    before = proxy.round_trips
    chats = 30
    await asyncio.gather(*(ordinary_turn(turns, f"{i:016x}" * 4, 100 + i) for i in range(1, chats + 1)))
    assert proxy.round_trips - before == ROUND_TRIPS_PER_ORDINARY_TURN, "30 turns, one round trip per step"
