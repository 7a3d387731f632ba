"""Turns for replicas on PostgreSQL that share round trips and commits: one connection, many chats.

The guarantees are `LockedTurns`' (bot.storage.turns): a replica holds a chat's advisory lock for
the whole turn, a redelivered update is answered once, each reply Telegram accepted is committed
before the next is sent, and the new state and the done mark are stored together. What differs is
the cost. A replica's turns take their locks on one shared connection (advisory locks belong to a
session, and one session can hold many), and whatever they ask of the database while a round trip
is on its way goes into the next one, as the SQLite store's group commit does:

- a new turn's lock (`pg_try_advisory_lock`, which never waits) and its two rows, in one round trip
  with other turns' (two statements: the read's snapshot must be taken after the lock);
- a reply's record, committed with the other turns' records and finishes, when another reply
  follows it (so it is not sent again if the process dies sending the next);
- the new state, the done mark and the record of the last reply in one statement per round for all
  finishing turns, committed, and the chats' locks released after the commit, in the same round
  trip. An ordinary turn (one reply) thus takes two round trips, shared with other chats' turns.

A chat another replica holds (the same update delivered to both) is left to `LockedTurns` on a
connection of its own, which waits for the lock. If the shared connection breaks, its locks die with
it: every turn that held one fails at its next step (its update is answered 503, and Telegram
delivers it again) and the next round opens a new connection.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg import AsyncConnection as PsycopgConnection
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage.database import erase_deleted
from bot.storage.store import ChatStore, StoredChat, chat_row, stored_chat
from bot.storage.tables import CHAT_TABLE
from bot.storage.turns import ChatTurn, ChatTurns, LockedTurns, StoreTurns, clears_form, lock_id

log = logging.getLogger(__name__)
# Each statement's text is fixed (rows go in as arrays), so psycopg prepares it once per connection.
LOCK = "SELECT pg_try_advisory_lock(lock) FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(lock, n) ORDER BY n"
READ = """
SELECT h.sent::text, h.done, c.key, c.node, c.lang, c.messages::text, c.last_bot_message_id, c.form::text,
  c.forms_sent::text, c.auto_delete_at, c.auto_delete_chat
FROM unnest(%s::text[], %s::bigint[]) WITH ORDINALITY AS t(key, update_id, n)
LEFT JOIN handled_update h ON h.update_id = t.update_id
LEFT JOIN chat c ON c.key = t.key
ORDER BY t.n
"""
RECORD = """
INSERT INTO handled_update (update_id, sent, done, at)
SELECT update_id, sent::json, false, at FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[])
  AS t(update_id, sent, at)
ON CONFLICT (update_id) DO UPDATE SET sent = excluded.sent, at = excluded.at
"""
FINISH = """
WITH saved AS (
  INSERT INTO chat (key, node, lang, messages, last_bot_message_id, newest_message_at, updated_at, form,
                    forms_sent, auto_delete_at, auto_delete_chat)
  SELECT key, node, lang, messages::json, last_bot, newest, updated, form::json, forms_sent::json,
    auto_delete_at, auto_delete_chat
  FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::timestamptz[],
              %s::timestamptz[], %s::text[], %s::text[], %s::timestamptz[], %s::text[])
    AS t(key, node, lang, messages, last_bot, newest, updated, form, forms_sent, auto_delete_at,
         auto_delete_chat)
  ON CONFLICT (key) DO UPDATE SET node = excluded.node, lang = excluded.lang,
    messages = excluded.messages, last_bot_message_id = excluded.last_bot_message_id,
    newest_message_at = excluded.newest_message_at, updated_at = excluded.updated_at,
    form = excluded.form, forms_sent = excluded.forms_sent, auto_delete_at = excluded.auto_delete_at,
    auto_delete_chat = excluded.auto_delete_chat
), forgotten AS (
  DELETE FROM chat WHERE key = ANY(%s::text[])
)
INSERT INTO handled_update (update_id, sent, done, at)
SELECT update_id, sent::json, true, at FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[])
  AS t(update_id, sent, at)
ON CONFLICT (update_id) DO UPDATE SET sent = excluded.sent, done = true, at = excluded.at
"""
UNLOCK = "SELECT pg_advisory_unlock(lock) FROM unnest(%s::bigint[]) AS t(lock)"


class _Pending(Protocol):
    session: int
    future: asyncio.Future[None]


_Write = TypeVar("_Write", bound=_Pending)


class LostLockError(OperationalError):
    """The shared connection broke during the turn, and the chat's lock went with it."""

    def __init__(self) -> None:
        reason = "the database connection holding the chat's lock broke during the turn"
        super().__init__(None, None, psycopg.OperationalError(reason))


def _outage(error: Exception) -> Exception:
    """psycopg's errors of a database that is away as SQLAlchemy's, which the bot knows an outage by."""
    if isinstance(error, psycopg.OperationalError):
        return OperationalError(None, None, error)
    if isinstance(error, psycopg.InterfaceError):
        return InterfaceError(None, None, error)
    return error


@dataclass
class _Found:
    """What a new turn found under its lock: the update's progress and the chat."""

    session: int
    done: bool
    sent: dict[int, int | None]
    chat: StoredChat | None


@dataclass
class _Begin:
    key: str
    update_id: int
    future: asyncio.Future[_Found | None]


@dataclass
class _Record:
    session: int
    update_id: int
    sent: str
    at: dt.datetime
    future: asyncio.Future[None]


@dataclass
class _Finish:
    session: int
    key: str
    update_id: int
    chat: StoredChat | None
    now: dt.datetime
    sent: str
    at: dt.datetime
    """When the update was handled, by this machine's clock (expiry counts from it)."""
    future: asyncio.Future[None]


@dataclass
class _Round:
    """Everything asked of the database while the previous round trip was on its way."""

    begins: list[_Begin] = field(default_factory=list)
    records: list[_Record] = field(default_factory=list)
    finishes: list[_Finish] = field(default_factory=list)
    unlocks: list[tuple[int, int]] = field(default_factory=list)
    """(session, lock id) of turns that ended without finishing."""

    def __bool__(self) -> bool:
        return bool(self.begins or self.records or self.finishes or self.unlocks)

    def fail(self, error: BaseException) -> None:
        futures: list[asyncio.Future[Any]] = [item.future for item in self.begins]
        futures += [item.future for item in self.records] + [item.future for item in self.finishes]
        for future in futures:
            if not future.done():
                future.set_exception(error)


@dataclass
class _Here:
    """A chat with a turn in this process, and how many turns want it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class _GroupedTurn:
    """A turn whose chat is locked on the shared connection."""

    def __init__(self, turns: GroupedTurns, key: str, update_id: int, found: _Found) -> None:
        self._turns = turns
        self._key = key
        self._update_id = update_id
        self.session = found.session
        self.done = found.done
        self.sent: dict[int, int | None] = found.sent
        self.chat = found.chat
        self.released = False

    async def record_sent(self, index: int, message_id: int | None, *, last: bool = False) -> None:
        """Committed before this returns (with other turns' records); the last one with finish()."""
        self.sent[index] = message_id
        if last:
            return
        await self._turns._record(self.session, self._update_id, _sent_json(self.sent))

    async def finish(self, chat: StoredChat | None, now: dt.datetime) -> None:
        """New state and done in one statement; the chat is released with the commit."""
        await self._turns._finish(self.session, self._key, self._update_id, chat, now, _sent_json(self.sent))
        self.released = True
        # After /slett or a sent or cancelled form, what was deleted goes from the disk too.
        if (chat is None and self.chat is not None) or clears_form(self.chat, chat):
            await erase_deleted(self._turns.database, [CHAT_TABLE])


class GroupedTurns:
    """Turns for replicas sharing one PostgreSQL database, many chats to one connection."""

    def __init__(self, database: AsyncEngine) -> None:
        self._database = database
        self.database = database
        """For erasing deleted rows from the disk after a turn (its own connections)."""
        self._contended = LockedTurns(database)
        self._waiting = _Round()
        self._running: asyncio.Task[None] | None = None
        self._connection: AsyncConnection | None = None
        self._session = 0
        """Counts connections: a lock taken on an earlier one is gone."""
        self._here: dict[str, _Here] = {}
        """Chats with a turn in this process: one session would take a chat's lock twice."""
        self.round_trips = 0
        """Round trips on the shared connection so far (each one pipeline, ended by one Sync)."""

    @asynccontextmanager
    async def turn(self, key: str, update_id: int) -> AsyncIterator[ChatTurn]:
        """Lock the chat on the shared connection; if another replica has it, wait for it apart."""
        async with self._held_here(key):
            future: asyncio.Future[_Found | None] = asyncio.get_running_loop().create_future()
            self._waiting.begins.append(_Begin(key, update_id, future))
            self._wake()
            found = await future
            if found is None:
                async with self._contended.turn(key, update_id) as contended:
                    yield contended
                return
            turn = _GroupedTurn(self, key, update_id, found)
            try:
                yield turn
            finally:
                if not turn.released:
                    self._waiting.unlocks.append((turn.session, lock_id(key)))
                    self._wake()

    async def expire(self, before: dt.datetime) -> int:
        """Delete records of updates Telegram will not redeliver any more."""
        return await self._contended.expire(before)

    async def close(self) -> None:
        """Give the shared connection up (its locks go with it)."""
        if self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)
        await self._drop_connection()

    @asynccontextmanager
    async def _held_here(self, key: str) -> AsyncIterator[None]:
        here = self._here.setdefault(key, _Here())
        here.users += 1
        try:
            async with here.lock:
                yield
        finally:
            here.users -= 1
            if here.users == 0:
                del self._here[key]

    async def _record(self, session: int, update_id: int, sent: str) -> None:
        self._check(session)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.records.append(_Record(session, update_id, sent, dt.datetime.now(dt.UTC), future))
        self._wake()
        await future

    async def _finish(
        self, session: int, key: str, update_id: int, chat: StoredChat | None, now: dt.datetime, sent: str
    ) -> None:
        self._check(session)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.finishes.append(
            _Finish(session, key, update_id, chat, now, sent, dt.datetime.now(dt.UTC), future)
        )
        self._wake()
        await future

    def _check(self, session: int) -> None:
        if session != self._session:
            raise LostLockError

    def _wake(self) -> None:
        if self._running is None:
            self._running = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, _Round()
                try:
                    await self._round_trip(batch)
                except Exception as error:
                    # Locks taken in a failed round may or may not be held: end the session, so none is.
                    batch.fail(_outage(error))
                    await self._drop_connection()
        finally:
            self._running = None

    async def _round_trip(self, batch: _Round) -> None:
        """Send the round's statements in one pipeline and hand each waiting turn its result."""
        conn = await self._driver_connection()
        session = self._session
        lost = LostLockError()
        records = _current(batch.records, session, lost)
        finishes = _current(batch.finishes, session, lost)
        unlocks = [lock for held_on, lock in batch.unlocks if held_on == session]
        unlocks += [lock_id(f.key) for f in finishes]
        begins = batch.begins
        locked = read = None
        async with conn.pipeline():
            if records or finishes:
                await conn.execute("BEGIN")
                if records:
                    await conn.execute(RECORD, _record_columns(records))
                if finishes:
                    await conn.execute(FINISH, _finish_columns(finishes))
                await conn.execute("COMMIT")
            if unlocks:
                await conn.execute(UNLOCK, (unlocks,))
            if begins:
                locked = await conn.execute(LOCK, ([lock_id(b.key) for b in begins],))
                read = await conn.execute(READ, ([b.key for b in begins], [b.update_id for b in begins]))
        self.round_trips += 1
        if locked is not None and read is not None:
            for begin, (got_lock,), row in zip(
                begins, await locked.fetchall(), await read.fetchall(), strict=True
            ):
                if not begin.future.done():
                    begin.future.set_result(_found(session, row) if got_lock else None)
                elif got_lock:  # the turn was given up (cancelled) meanwhile: let the chat go
                    self._waiting.unlocks.append((session, lock_id(begin.key)))
        for future in [item.future for item in records] + [item.future for item in finishes]:
            if not future.done():
                future.set_result(None)

    async def _driver_connection(self) -> PsycopgConnection[Any]:
        if self._connection is None:
            self._connection = await self._database.connect()
            self._session += 1
        raw = (await self._connection.get_raw_connection()).driver_connection
        if not isinstance(raw, PsycopgConnection):
            raise TypeError("GroupedTurns needs PostgreSQL through psycopg")
        if not raw.autocommit:
            await raw.set_autocommit(True)  # BEGIN and COMMIT are in the pipeline where needed
            raw.prepare_threshold = 0  # prepared from the first use: the same few statements all day
        return raw

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        self._session += 1
        try:
            await connection.invalidate()  # never back to the pool: its session may hold locks
            await connection.close()
        except (SQLAlchemyError, psycopg.Error, OSError) as error:  # it was broken already
            log.debug("closing the shared turn connection: %s", type(error).__name__)


def _current(items: Sequence[_Write], session: int, lost: LostLockError) -> list[_Write]:
    """The items whose lock is held on this session; the others fail (their lock died with the last one)."""
    kept = []
    for item in items:
        if item.session == session:
            kept.append(item)
        elif not item.future.done():
            item.future.set_exception(lost)
    return kept


def _sent_json(sent: Mapping[int, int | None]) -> str:
    return json.dumps({str(index): message_id for index, message_id in sent.items()})


def _found(session: int, row: Sequence[Any]) -> _Found:
    (
        sent_json,
        done,
        key,
        node,
        lang,
        messages,
        last_bot,
        form,
        forms_sent,
        auto_delete_at,
        auto_delete_chat,
    ) = row
    chat = None
    if key is not None:
        chat = stored_chat(
            {
                "node": node,
                "lang": lang,
                "messages": json.loads(messages),
                "last_bot_message_id": last_bot,
                "form": None if form is None else json.loads(form),
                "forms_sent": None if forms_sent is None else json.loads(forms_sent),
                "auto_delete_at": auto_delete_at,
                "auto_delete_chat": auto_delete_chat,
            }
        )
    sent = {int(i): m for i, m in json.loads(sent_json).items()} if sent_json is not None else {}
    return _Found(session, bool(done), sent, chat)


def _record_columns(records: Sequence[_Record]) -> tuple[list[Any], ...]:
    latest = {r.update_id: r for r in records}  # one row per update (ON CONFLICT touches a row once)
    return (list(latest), [r.sent for r in latest.values()], [r.at for r in latest.values()])


def _finish_columns(finishes: Sequence[_Finish]) -> tuple[list[Any], ...]:
    rows = [chat_row(f.key, f.chat, f.now) for f in finishes if f.chat is not None]
    forgotten = [f.key for f in finishes if f.chat is None]
    return (
        [r["key"] for r in rows],
        [r["node"] for r in rows],
        [r["lang"] for r in rows],
        [json.dumps(r["messages"]) for r in rows],
        [r["last_bot_message_id"] for r in rows],
        [r["newest_message_at"] for r in rows],
        [r["updated_at"] for r in rows],
        [None if r["form"] is None else json.dumps(r["form"]) for r in rows],
        [None if r["forms_sent"] is None else json.dumps(r["forms_sent"]) for r in rows],
        [r["auto_delete_at"] for r in rows],
        [r["auto_delete_chat"] for r in rows],
        forgotten,
        [f.update_id for f in finishes],
        [f.sent for f in finishes],
        [f.at for f in finishes],
    )


def chat_turns(store: ChatStore, database: AsyncEngine) -> ChatTurns:
    """Grouped locked turns on PostgreSQL (replicas may share it), plain ones on SQLite (one process)."""
    if database.dialect.name == "postgresql":
        return GroupedTurns(database)
    return StoreTurns(store)
