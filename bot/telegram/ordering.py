"""Concurrent across chats, strictly in order within a chat.

PTB's `concurrent_updates` runs updates side by side but promises no order; two quick button
presses in one chat could then be answered in the wrong order. Each chat gets a FIFO lock here,
so its updates run one at a time in arrival order while other chats go ahead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.telegram.conversations import Incoming


@dataclass
class _ChatLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """Runs up to `max_concurrent_updates` updates at once, one at a time per chat."""

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        # Only chats with an update in flight have an entry, so memory stays bounded.
        self._chats: dict[int, _ChatLock] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[object]) -> None:
        """Wait for the chat's earlier updates, then process this one."""
        chat_id = chat_of(update)
        if chat_id is None:
            await coroutine
            return
        entry = self._chats.setdefault(chat_id, _ChatLock())
        entry.users += 1
        try:
            async with entry.lock:
                await coroutine
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._chats[chat_id]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    @property
    def chats_in_flight(self) -> int:
        """How many chats have an update being processed or waiting."""
        return len(self._chats)


def chat_of(update: object) -> int | None:
    """The chat an update belongs to (the user's id for updates without a chat)."""
    if isinstance(update, Incoming):  # an ordinary update the webhook answers without PTB's objects
        return update.chat_id
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None
