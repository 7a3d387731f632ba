"""Auto-delete: a conversation whose reader chose "delete it by itself" is deleted when the time comes.

The choice is a time on the chat's row, with the chat id sealed beside it (only the pseudonym key
opens it): a job in every replica looks for chats whose time has come, holds each chat as a turn
does (its ChatOrder here, its advisory lock on PostgreSQL), deletes its messages on Telegram and
then the row, so of several replicas exactly one deletes each chat, once, and an update of the chat
waits until it is done (and then starts a new chat).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot
from telegram.error import Forbidden, TelegramError

from bot.storage.pseudonym import Pseudonymizer
from bot.storage.store import ChatStore
from bot.storage.turns import chat_held
from bot.telegram.answering import ChatOrder
from bot.telegram.conversations import Retention, deletable, delete_messages

log = logging.getLogger(__name__)


class AutoDeleter:
    """Deletes the conversations whose chosen time has come."""

    def __init__(
        self,
        bot: Bot,
        store: ChatStore,
        database: AsyncEngine,
        pseudonyms: Pseudonymizer,
        order: ChatOrder,
        retention: Callable[[], Retention],
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._bot = bot
        self._store = store
        self._database = database
        self._pseudonyms = pseudonyms
        self._order = order
        self._retention = retention
        self._clock = clock

    async def run_once(self) -> int:
        """Delete every conversation due now; returns how many this replica deleted."""
        deleted = 0
        for key, sealed in await self._store.due_auto_deletions(self._clock()):
            if sealed is None:
                # A web conversation: its page clears itself; here only what is stored goes.
                async with chat_held(self._database, key):
                    deleted += await self._store.take_due(key, self._clock()) is not None
                continue
            chat_id = self._pseudonyms.open(sealed, key)
            if chat_id is None:
                # Sealed under another PSEUDONYM_KEY: nowhere to delete; what is stored goes all the same.
                log.warning("a chat due for auto-delete was sealed with another key; forgetting it only")
                async with chat_held(self._database, key):
                    await self._store.take_due(key, self._clock())
                continue
            async with self._order.turn(chat_id), chat_held(self._database, key):
                deleted += await self._delete(key, chat_id)
        if deleted:
            log.info("auto-deleted %d conversation(s)", deleted)
        return deleted

    async def _delete(self, key: str, chat_id: int) -> int:
        """With the chat held: still due (no other replica did it, the reader did not turn it off)?"""
        now = self._clock()
        chat = await self._store.load(key)
        if chat is None or chat.auto_delete_at is None or chat.auto_delete_at > now:
            return 0
        try:
            await delete_messages(self._bot, chat_id, deletable(chat, now, self._retention()))
        except Forbidden:  # the reader blocked the bot: nothing can be deleted there any more
            log.info("an auto-deleted chat has blocked the bot; forgetting it only")
        # Only now the row: a failure above (Telegram away) leaves it, and the next run tries again.
        await self._store.take_due(key, now)
        return 1


async def auto_delete_forever(deleter: AutoDeleter, interval: float) -> None:
    """Run the auto-delete job every `interval` seconds for as long as the bot runs."""
    while True:
        try:
            await deleter.run_once()
        except (OSError, SQLAlchemyError, TelegramError) as error:  # tried again next time
            log.warning("auto-delete failed (%s); trying again later", type(error).__name__)
        await asyncio.sleep(interval)
