"""The chat store: a small interface the runtime uses, and its SQL implementation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from bot.engine.form import InterestForm
from bot.engine.model import ChatState, FormsSent
from bot.storage.database import SQLITE_BUSY_TIMEOUT_MS, erase_deleted
from bot.storage.tables import CHAT_TABLE

PING_BUSY_TIMEOUT_MS = 1000  # below the health check's own timeout, so a locked database answers "no"
MAX_TRACKED_MESSAGES = 200  # a bound on what /slett can delete; far more than a normal conversation


@dataclass(frozen=True)
class StoredChat:
    """What is kept about one chat between updates."""

    state: ChatState
    messages: tuple[tuple[int, int], ...] = ()
    """(message id, unix seconds) of recent messages in the chat, the bot's and the user's."""
    last_bot_message_id: int | None = None
    auto_delete_at: dt.datetime | None = None
    """When the reader asked the conversation to be deleted by itself; None: not asked."""
    auto_delete_chat: str | None = None
    """Until then: the chat id, sealed (bot.storage.pseudonym.ChatSeal), so the job knows where to delete."""

    def remember(
        self, message_ids: list[int], now: dt.datetime, window: dt.timedelta, last_bot: int | None
    ) -> StoredChat:
        """Add message ids, dropping those older than `window` (they can no longer be deleted)."""
        stamp = int(now.timestamp())
        oldest = stamp - int(window.total_seconds())
        kept = [m for m in self.messages if m[1] >= oldest] + [(i, stamp) for i in message_ids]
        return replace(
            self,
            messages=tuple(kept[-MAX_TRACKED_MESSAGES:]),
            last_bot_message_id=last_bot if last_bot is not None else self.last_bot_message_id,
        )


@dataclass(frozen=True)
class ExpiryRules:
    """How long a chat's parts are kept (the facts file's privacy.* figures, see Retention)."""

    chat: dt.timedelta
    """A chat unused this long is deleted."""
    message_ids: dt.timedelta
    """Message ids older than this are dropped (Telegram no longer lets the bot delete them)."""
    abandoned_form: dt.timedelta | None = None
    """A form untouched this long is emptied; None: never."""


@dataclass(frozen=True)
class ExpiryReport:
    """How much the expiry run removed."""

    chats_deleted: int
    message_lists_cleared: int
    forms_emptied: int = 0


class ChatStore(Protocol):
    """Where chat state lives; keys are pseudonyms, never Telegram ids."""

    async def load(self, key: str) -> StoredChat | None:
        """The stored chat, or None for a chat we know nothing about."""

    async def save(self, key: str, chat: StoredChat, now: dt.datetime) -> None:
        """Store the chat (insert or replace)."""

    async def forget(self, key: str) -> StoredChat | None:
        """Delete everything about the chat; return what was stored."""

    async def expire(self, now: dt.datetime, rules: ExpiryRules) -> ExpiryReport:
        """Delete what has outlived `rules`: unused chats, old message ids, unfinished forms' answers."""

    async def due_auto_deletions(self, now: dt.datetime) -> list[tuple[str, str | None]]:
        """(key, sealed chat id or None when there is none) of the chats whose auto-delete time has come."""

    async def take_due(self, key: str, now: dt.datetime) -> StoredChat | None:
        """Delete the chat if its auto-delete time has come, and return what it held; else None."""

    async def erase_deleted(self) -> None:
        """Make what was deleted or overwritten unreadable in the database files too."""

    async def ping(self) -> None:
        """Raise when the database cannot be reached."""

    async def close(self) -> None:
        """Release connections."""


class SqlChatStore:
    """ChatStore on SQLAlchemy Core (SQLite or PostgreSQL); one statement per load and per save."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._table: Table = SQLModel.metadata.tables[CHAT_TABLE]
        dialect = engine.dialect.name
        self._insert: Any = pg_insert if dialect == "postgresql" else sqlite_insert

    async def load(self, key: str) -> StoredChat | None:
        """The stored chat, or None."""
        return (await self.load_many([key]))[0]

    async def load_many(self, keys: Sequence[str]) -> list[StoredChat | None]:
        """Several chats in one query, in the order of `keys`."""
        t = self._table
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(t).where(t.c.key.in_(set(keys))))).all()
        found = {row.key: stored_chat(row._mapping) for row in rows}
        return [found.get(key) for key in keys]

    async def save(self, key: str, chat: StoredChat, now: dt.datetime) -> None:
        """Insert or replace the chat's row."""
        await self.save_many([(key, chat, now)])

    async def save_many(self, items: Sequence[tuple[str, StoredChat, dt.datetime]]) -> None:
        """Insert or replace several rows in one transaction; for a repeated key the last one wins."""
        latest = {key: (chat, now) for key, chat, now in items}
        rows = [chat_row(key, chat, now) for key, (chat, now) in latest.items()]
        statement = self._insert(self._table)
        statement = statement.on_conflict_do_update(
            index_elements=["key"], set_={name: statement.excluded[name] for name in rows[0] if name != "key"}
        )
        async with self._engine.begin() as conn:
            await conn.execute(statement, rows)

    async def forget(self, key: str) -> StoredChat | None:
        """Delete the chat's row and return what it held."""
        t = self._table
        async with self._engine.begin() as conn:
            row = (await conn.execute(select(t).where(t.c.key == key))).first()
            await conn.execute(delete(t).where(t.c.key == key))
        await self.erase_deleted()
        return None if row is None else stored_chat(row._mapping)

    async def expire(self, now: dt.datetime, rules: ExpiryRules) -> ExpiryReport:
        """Delete old chats; clear the message ids of chats quiet for longer than the window; empty
        forms left unfinished too long (the chat itself stays, at the same node)."""
        t = self._table
        emptied = 0
        async with self._engine.begin() as conn:
            deleted = await conn.execute(delete(t).where(t.c.updated_at < now - rules.chat))
            cleared = await conn.execute(
                update(t)
                .where(t.c.newest_message_at < now - rules.message_ids)
                .values(messages=[], last_bot_message_id=None, newest_message_at=None)
            )
            if rules.abandoned_form is not None:
                forms = await conn.execute(
                    update(t)
                    .where(t.c.form.is_not(None), t.c.updated_at < now - rules.abandoned_form)
                    .values(form=None)
                )
                emptied = forms.rowcount or 0
        await self.erase_deleted()
        return ExpiryReport(deleted.rowcount or 0, cleared.rowcount or 0, emptied)

    async def due_auto_deletions(self, now: dt.datetime) -> list[tuple[str, str | None]]:
        """The chats whose auto-delete time has come (by its index), each with its sealed Telegram
        chat id; None for a conversation kept without one (nothing on Telegram to delete)."""
        t = self._table
        query = select(t.c.key, t.c.auto_delete_chat).where(t.c.auto_delete_at <= now)
        async with self._engine.connect() as conn:
            return [(row.key, row.auto_delete_chat) for row in await conn.execute(query)]

    async def take_due(self, key: str, now: dt.datetime) -> StoredChat | None:
        """One statement (DELETE … RETURNING): of two replicas taking the same chat, one gets it."""
        t = self._table
        statement = delete(t).where(t.c.key == key, t.c.auto_delete_at <= now).returning(*t.c)
        async with self._engine.begin() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            return None
        await self.erase_deleted()
        return stored_chat(row._mapping)

    async def erase_deleted(self) -> None:
        """See bot.storage.database.erase_deleted."""
        await erase_deleted(self._engine, [CHAT_TABLE])

    async def ping(self) -> None:
        """Commit a write that changes nothing: raise when the database cannot store anything now.

        A read would succeed on a full disk, a read-only file system or a PostgreSQL standby, and
        in WAL mode SQLite's readers are never locked out; only a committed write shows that an
        update's new state could be saved. The row is Alembic's, which every migrated database has.
        """
        touch = "UPDATE alembic_version SET version_num = version_num"
        async with self._engine.begin() as conn:
            if self._engine.dialect.name != "sqlite":
                await conn.exec_driver_sql(touch)
                return
            await conn.exec_driver_sql(f"PRAGMA busy_timeout={PING_BUSY_TIMEOUT_MS}")
            try:
                await conn.exec_driver_sql(touch)
            finally:
                await conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")

    async def close(self) -> None:
        """Dispose of the connection pool."""
        await self._engine.dispose()


def chat_row(key: str, chat: StoredChat, now: dt.datetime) -> dict[str, Any]:
    """The chat table row for a stored chat."""
    return {
        "key": key,
        "node": chat.state.node,
        "lang": chat.state.lang,
        "messages": chat.messages,  # tuples serialise as JSON arrays
        "last_bot_message_id": chat.last_bot_message_id,
        "newest_message_at": dt.datetime.fromtimestamp(chat.messages[-1][1], dt.UTC)
        if chat.messages
        else None,
        "updated_at": now,
        "form": chat.state.form.to_json() if chat.state.form is not None else None,
        "forms_sent": chat.state.forms_sent.to_json() if chat.state.forms_sent is not None else None,
        "auto_delete_at": chat.auto_delete_at,
        "auto_delete_chat": chat.auto_delete_chat,
    }


def stored_chat(row: Any) -> StoredChat:
    """A stored chat from its chat table row."""
    return StoredChat(
        state=ChatState(
            node=row["node"],
            lang=row["lang"],
            form=InterestForm.from_json(row["form"]) if isinstance(row["form"], dict) else None,
            forms_sent=FormsSent.from_json(row["forms_sent"]),
        ),
        messages=tuple((int(m[0]), int(m[1])) for m in row["messages"]),
        last_bot_message_id=row["last_bot_message_id"],
        auto_delete_at=_utc(row["auto_delete_at"]),
        auto_delete_chat=row["auto_delete_chat"],
    )


def _utc(at: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives back naive datetimes; they were stored in UTC."""
    return at.replace(tzinfo=dt.UTC) if at is not None and at.tzinfo is None else at
