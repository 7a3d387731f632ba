"""A bounded write-through cache of chat state, for the single-process SQLite setup only.

With SQLite there is exactly one bot process, and it handles a chat's updates one at a time, so
what it last saved for a chat is what the database holds: a hit saves a round trip on every update.
With PostgreSQL several replicas share the chats and no cache is used.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict

from bot.storage.store import ChatStore, ExpiryReport, ExpiryRules, StoredChat

DEFAULT_CAPACITY = 10_000  # chats; a few MB at most, however many people write


class CachedChatStore:
    """Write-through LRU cache in front of another ChatStore."""

    def __init__(self, inner: ChatStore, capacity: int = DEFAULT_CAPACITY) -> None:
        self._inner = inner
        self._capacity = capacity
        self._chats: OrderedDict[str, StoredChat | None] = OrderedDict()

    async def load(self, key: str) -> StoredChat | None:
        """From the cache when known, else from the store (and remembered)."""
        if key in self._chats:
            self._chats.move_to_end(key)
            return self._chats[key]
        chat = await self._inner.load(key)
        self._remember(key, chat)
        return chat

    async def save(self, key: str, chat: StoredChat, now: dt.datetime) -> None:
        """Save to the store first; cache only what was committed."""
        await self._inner.save(key, chat, now)
        self._remember(key, chat)

    async def forget(self, key: str) -> StoredChat | None:
        """Forget in the store and here."""
        self._chats.pop(key, None)
        return await self._inner.forget(key)

    async def expire(self, now: dt.datetime, rules: ExpiryRules) -> ExpiryReport:
        """Expire in the store; the cache starts afresh so it never outlives what was deleted."""
        report = await self._inner.expire(now, rules)
        self._chats.clear()
        return report

    async def due_auto_deletions(self, now: dt.datetime) -> list[tuple[str, str | None]]:
        """Straight through."""
        return await self._inner.due_auto_deletions(now)

    async def take_due(self, key: str, now: dt.datetime) -> StoredChat | None:
        """Taken in the store; a taken chat is forgotten here too."""
        taken = await self._inner.take_due(key, now)
        if taken is not None:
            self._chats.pop(key, None)
        return taken

    async def erase_deleted(self) -> None:
        """Straight through."""
        await self._inner.erase_deleted()

    async def ping(self) -> None:
        """Straight through."""
        await self._inner.ping()

    async def close(self) -> None:
        """Straight through."""
        self._chats.clear()
        await self._inner.close()

    def __len__(self) -> int:
        return len(self._chats)

    def _remember(self, key: str, chat: StoredChat | None) -> None:
        self._chats[key] = chat
        self._chats.move_to_end(key)
        while len(self._chats) > self._capacity:
            self._chats.popitem(last=False)
