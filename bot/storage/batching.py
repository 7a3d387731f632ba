"""Group commit: concurrent loads and saves share one query and one transaction.

Under load, many chats are answered at the same time; with one statement and one commit each,
the database round trips (and SQLite's single writer) set the pace. Here every load or save
waits for the next batch instead: at most one batch of each kind is in flight, and whatever
arrives meanwhile goes into the one after. Callers still get their result only once it is
committed, so nothing is acknowledged that is not durable.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar

from bot.storage.store import ChatStore, ExpiryReport, ExpiryRules, StoredChat

Item = TypeVar("Item")
Result = TypeVar("Result")
MAX_BATCH = 500


class Batcher(Generic[Item, Result]):
    """Collects items and runs `work` on them in batches, one batch at a time."""

    def __init__(self, work: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]]) -> None:
        self._work = work
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Add an item to the next batch and wait for its result."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._running is None:
            self._running = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                try:
                    results = await self._work([item for item, _ in batch])
                except Exception as error:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._running = None


class BatchingChatStore:
    """A ChatStore whose loads and saves are batched over one that can do them in bulk."""

    def __init__(self, inner: BulkChatStore) -> None:
        self._inner = inner
        self._loads: Batcher[str, StoredChat | None] = Batcher(inner.load_many)
        self._saves: Batcher[tuple[str, StoredChat, dt.datetime], None] = Batcher(self._save_many)

    async def load(self, key: str) -> StoredChat | None:
        """The stored chat, fetched together with other chats' loads."""
        return await self._loads.submit(key)

    async def save(self, key: str, chat: StoredChat, now: dt.datetime) -> None:
        """Stored in the next shared transaction; returns once committed."""
        await self._saves.submit((key, chat, now))

    async def forget(self, key: str) -> StoredChat | None:
        """Deleting is rare: straight through."""
        return await self._inner.forget(key)

    async def expire(self, now: dt.datetime, rules: ExpiryRules) -> ExpiryReport:
        """Straight through."""
        return await self._inner.expire(now, rules)

    async def due_auto_deletions(self, now: dt.datetime) -> list[tuple[str, str | None]]:
        """Straight through."""
        return await self._inner.due_auto_deletions(now)

    async def take_due(self, key: str, now: dt.datetime) -> StoredChat | None:
        """Straight through (the caller holds the chat, so no save of it is pending)."""
        return await self._inner.take_due(key, now)

    async def erase_deleted(self) -> None:
        """Straight through."""
        await self._inner.erase_deleted()

    async def ping(self) -> None:
        """Straight through."""
        await self._inner.ping()

    async def close(self) -> None:
        """Straight through."""
        await self._inner.close()

    async def _save_many(self, items: Sequence[tuple[str, StoredChat, dt.datetime]]) -> list[None]:
        await self._inner.save_many(items)
        return [None] * len(items)


class BulkChatStore(ChatStore, Protocol):
    """A ChatStore that can also load and save many chats in one go."""

    async def load_many(self, keys: Sequence[str]) -> list[StoredChat | None]:
        """The chats for `keys`, in the same order."""

    async def save_many(self, items: Sequence[tuple[str, StoredChat, dt.datetime]]) -> None:
        """Save several chats in one transaction."""
