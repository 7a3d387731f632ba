"""A chat's turn: one update handled with the chat to itself, its state loaded and stored once.

Two implementations behind one small interface:

- `StoreTurns` for the single process on SQLite: the process already handles a chat's updates one
  at a time (its adapter orders them), so a turn is load, then save; the progress of
  recent updates is kept in memory, so a redelivery to this process is answered once.
- `LockedTurns` for replicas on PostgreSQL (`bot.storage.grouped_turns` shares round trips between
  chats, and leaves a chat another replica holds to this): a per-chat advisory lock makes replicas
  take a chat's updates one at a time, and a `handled_update` row per update makes a redelivered
  update (Telegram retries after a timeout, a 5xx or a replica killed mid-way) answered once:
  replies Telegram accepted are recorded one by one, each in its own committed transaction, and
  skipped when the update comes again; once the new state is stored the update is marked done.

What is left: a reply Telegram accepted in the instant before a replica was killed, and before it
could record that, is sent again. The Bot API offers no idempotency key to close that window.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Table, delete, literal, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel

from bot.storage.database import erase_deleted
from bot.storage.store import ChatStore, StoredChat, chat_row, stored_chat
from bot.storage.tables import CHAT_TABLE, HANDLED_UPDATE_TABLE

log = logging.getLogger(__name__)
# Updates whose progress one process keeps in memory: far more than arrive while Telegram redelivers one.
REMEMBERED_UPDATES = 10_000


class ChatTurn(Protocol):
    """One update's hold on one chat."""

    @property
    def done(self) -> bool:
        """The update was fully handled before (a redelivery): acknowledge it, answer nothing."""

    @property
    def chat(self) -> StoredChat | None:
        """The chat as stored before this update (None: a new chat)."""

    @property
    def sent(self) -> Mapping[int, int | None]:
        """Replies of this update Telegram accepted on an earlier attempt: index → message id."""

    async def record_sent(self, index: int, message_id: int | None, *, last: bool = False) -> None:
        """Telegram accepted reply `index` (message id, or None for an edit in place).

        A reply another follows is recorded for good before this returns, so it is not sent again
        even if the process dies sending the next. The `last` one may be recorded by `finish()`
        instead, with the new state: it is exposed just as long (from Telegram's acceptance to the
        next commit) and the turn is a round trip shorter.
        """

    async def finish(self, chat: StoredChat | None, now: dt.datetime) -> None:
        """Store the chat's new state (None: forget the chat) and mark the update done."""


class ChatTurns(Protocol):
    """Where turns come from."""

    def turn(self, key: str, update_id: int) -> AbstractAsyncContextManager[ChatTurn]:
        """Hold the chat `key` for update `update_id` until the block ends."""

    async def expire(self, before: dt.datetime) -> int:
        """Forget handled updates older than `before`; returns how many."""

    async def close(self) -> None:
        """Let go of what the turns hold between updates (a shared connection)."""


@dataclass
class _Progress:
    """How far this process got with one update: replies Telegram accepted, and whether it is done."""

    sent: dict[int, int | None] = field(default_factory=dict)
    done: bool = False


class _PlainTurn:
    """A turn in the single process: load, then save."""

    def __init__(self, store: ChatStore, key: str, chat: StoredChat | None, progress: _Progress) -> None:
        self._store = store
        self._key = key
        self._progress = progress
        self.chat = chat
        self.done = progress.done
        self.sent: Mapping[int, int | None] = dict(progress.sent)

    async def record_sent(self, index: int, message_id: int | None, *, last: bool = False) -> None:
        """Remember it in memory: one process on SQLite is the only one Telegram redelivers to."""
        self._progress.sent[index] = message_id

    async def finish(self, chat: StoredChat | None, now: dt.datetime) -> None:
        """Save or forget through the store; only then is the update done."""
        if chat is None:
            await self._store.forget(self._key)  # erases what it deleted
        else:
            await self._store.save(self._key, chat, now)
            if clears_form(self.chat, chat):
                await self._store.erase_deleted()
        self._progress.done = True


class StoreTurns:
    """Turns for one process: its own per-chat ordering is the lock.

    Telegram delivers an update again when the webhook answered 503 (the state could not be saved)
    or answered too late (a reply waited out a 429); the redelivery reaches this same process, which
    remembers its recent updates' progress, so it neither answers again nor resends what was sent.
    """

    def __init__(self, store: ChatStore, remembered: int = REMEMBERED_UPDATES) -> None:
        self._store = store
        self._remembered = remembered
        self._updates: OrderedDict[int, _Progress] = OrderedDict()

    @asynccontextmanager
    async def turn(self, key: str, update_id: int) -> AsyncIterator[ChatTurn]:
        """Load the chat; the caller saves it through the turn."""
        progress = self._updates.setdefault(update_id, _Progress())
        self._updates.move_to_end(update_id)
        while len(self._updates) > self._remembered:
            self._updates.popitem(last=False)
        chat = None if progress.done else await self._store.load(key)
        yield _PlainTurn(self._store, key, chat, progress)

    async def expire(self, before: dt.datetime) -> int:
        """Nothing is kept per update in the database here."""
        return 0

    async def close(self) -> None:
        """Nothing is held between updates."""


class _LockedTurn:
    """A turn holding the chat's advisory lock on its own connection."""

    def __init__(
        self,
        database: AsyncEngine,
        conn: AsyncConnection,
        key: str,
        update_id: int,
        done: bool,
        sent: dict[int, int | None],
        chat: StoredChat | None,
    ) -> None:
        self._database = database
        self._conn = conn
        self._key = key
        self._update_id = update_id
        self.done = done
        self.sent = sent
        self.chat = chat
        self._finished = False
        self._handled: Table = SQLModel.metadata.tables[HANDLED_UPDATE_TABLE]
        self._chats: Table = SQLModel.metadata.tables[CHAT_TABLE]

    async def record_sent(self, index: int, message_id: int | None, *, last: bool = False) -> None:
        """Commit at once (the last one too: this is the rare path), so it outlives this process."""
        self.sent[index] = message_id
        await self._conn.execute(self._upsert_handled(done=self._finished))

    async def finish(self, chat: StoredChat | None, now: dt.datetime) -> None:
        """New state and `done` in one statement (a data-modifying CTE), so both or neither happen."""
        self._finished = True
        if chat is None:
            change: Any = delete(self._chats).where(self._chats.c.key == self._key)
        else:
            upsert = pg_insert(self._chats).values(chat_row(self._key, chat, now))
            columns = {c.name: upsert.excluded[c.name] for c in self._chats.c if c.name != "key"}
            change = upsert.on_conflict_do_update(index_elements=["key"], set_=columns)
        await self._conn.execute(self._upsert_handled(done=True).add_cte(change.cte("chat_change")))
        if (chat is None and self.chat is not None) or clears_form(self.chat, chat):
            await erase_deleted(self._database, [CHAT_TABLE])

    def _upsert_handled(self, *, done: bool) -> Any:
        values = {
            "update_id": self._update_id,
            "sent": {str(index): message_id for index, message_id in self.sent.items()},
            "done": done,
            "at": dt.datetime.now(dt.UTC),
        }
        statement = pg_insert(self._handled).values(values)
        return statement.on_conflict_do_update(
            index_elements=["update_id"],
            set_={
                "sent": statement.excluded.sent,
                "done": statement.excluded.done,
                "at": statement.excluded.at,
            },
        )


class LockedTurns:
    """Turns for replicas sharing one PostgreSQL database."""

    def __init__(self, database: AsyncEngine) -> None:
        if database.dialect.name != "postgresql":
            raise ValueError("LockedTurns needs PostgreSQL (advisory locks); use StoreTurns for SQLite")
        self._database = database
        self._handled: Table = SQLModel.metadata.tables[HANDLED_UPDATE_TABLE]
        self._chats: Table = SQLModel.metadata.tables[CHAT_TABLE]

    @asynccontextmanager
    async def turn(self, key: str, update_id: int) -> AsyncIterator[ChatTurn]:
        """Wait for the chat's lock (session-level: it dies with a killed replica's connection)."""
        async with self._database.connect() as conn:
            # Each statement commits by itself (no BEGIN/COMMIT round trips); finish() stores the state
            # and "done" in one statement. Reads after the lock see what the last holder committed.
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            lock = {"lock": lock_id(key)}
            await conn.execute(text("SELECT pg_advisory_lock(:lock)"), lock)
            try:
                # One round trip for both rows: the handled update (if any) beside the chat (if any).
                handled, chats = self._handled, self._chats
                anchor = select(literal(1).label("one")).subquery("anchor")
                query = select(
                    handled.c.sent.label("handled_sent"), handled.c.done.label("handled_done"), *chats.c
                ).select_from(
                    anchor.outerjoin(handled, handled.c.update_id == update_id).outerjoin(
                        chats, chats.c.key == key
                    )
                )
                found = (await conn.execute(query)).one()
                chat = None if found.key is None else stored_chat(found._mapping)
                sent = {int(i): m for i, m in (found.handled_sent or {}).items()}
                yield _LockedTurn(self._database, conn, key, update_id, bool(found.handled_done), sent, chat)
            finally:
                if conn.in_transaction():
                    await conn.rollback()
                await conn.execute(text("SELECT pg_advisory_unlock(:lock)"), lock)
                await conn.commit()

    async def expire(self, before: dt.datetime) -> int:
        """Delete records of updates Telegram will not redeliver any more."""
        async with self._database.begin() as conn:
            result = await conn.execute(delete(self._handled).where(self._handled.c.at < before))
        return result.rowcount or 0

    async def close(self) -> None:
        """Each turn gives its connection back itself."""


@asynccontextmanager
async def chat_held(database: AsyncEngine, key: str) -> AsyncIterator[None]:
    """Hold the chat as a turn does, for work outside an update (auto-delete): on PostgreSQL its
    advisory lock, on a connection of its own, so no replica's turn of the chat runs meanwhile.
    On SQLite the one process orders its chats itself (the caller holds the chat's ChatOrder)."""
    if database.dialect.name != "postgresql":
        yield
        return
    async with database.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        lock = {"lock": lock_id(key)}
        await conn.execute(text("SELECT pg_advisory_lock(:lock)"), lock)
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:lock)"), lock)


def clears_form(before: StoredChat | None, after: StoredChat | None) -> bool:
    """Whether a form with answers was sent or cancelled: its answers are then erased from disk."""
    return (
        before is not None and before.state.form is not None and (after is None or after.state.form is None)
    )


def lock_id(key: str) -> int:
    """A signed 64-bit advisory lock id from a chat's pseudonym (64 hex characters)."""
    value = int(key[:16], 16)
    return value - (1 << 64) if value >= 1 << 63 else value
