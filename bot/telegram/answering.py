"""From a Telegram update to its answer, in its chat's order: flood control, the turn, metrics, failures.

The webhook and long polling both call `Answerer.handle` with PTB's `Update`; it returns once the
update is answered and raises when it could not be (the webhook then answers 503, and Telegram
delivers the update again).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from telegram import Bot, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.i18n import Catalogs
from bot.logs import telegram_error
from bot.telegram.conversations import Conversations, Incoming
from bot.telegram.flood import FloodGuard, Verdict
from bot.telegram.metrics import BotMetrics
from bot.telegram.updates import AddedToGroup, InGroup, inbound, update_kind

log = logging.getLogger(__name__)
# Errors of a database that is down or locked for now, as opposed to a bug in a query.
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)
# Failures a later delivery of the same update can get past: the database or Telegram is away or
# busy for now. Only these answer a webhook delivery with 503.
CURABLE = (*DATABASE_DOWN, NetworkError, RetryAfter, TimeoutError, ConnectionError)
DATABASE_RETRY_FIRST_SECONDS = 0.5
DATABASE_RETRY_MAX_SECONDS = 5.0  # short: a stopping bot notices within this


def impatient() -> bool:
    """A webhook update is not kept waiting for the database: Telegram delivers it again."""
    return False


@dataclass
class _ChatLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class ChatOrder:
    """One update at a time in each chat, in arrival order, while other chats go ahead.

    Updates of different chats run side by side; two quick button presses in one chat must still
    be answered in the order they were made. asyncio's lock wakes its waiters first come, first
    served, and updates take it before their first wait, so arrival order is kept.
    """

    def __init__(self) -> None:
        # Only chats with an update in flight have an entry, so memory stays bounded.
        self._chats: dict[int, _ChatLock] = {}

    @asynccontextmanager
    async def turn(self, chat_id: int) -> AsyncIterator[None]:
        """Wait for the chat's earlier updates; the chat is this update's until the block ends."""
        entry = self._chats.setdefault(chat_id, _ChatLock())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._chats[chat_id]

    @property
    def chats_in_flight(self) -> int:
        """How many chats have an update being answered or waiting."""
        return len(self._chats)


class Answerer:
    """Answers every update, and decides what a failure to answer means."""

    def __init__(
        self,
        bot: Bot,
        conversations: Conversations,
        flood: FloodGuard | None,
        catalogs: Catalogs,
        metrics: BotMetrics,
        *,
        staff_chat_id: int | None,
    ) -> None:
        """Answer through `bot`; `flood` is None when flood control is off."""
        self._bot = bot
        self._conversations = conversations
        self._flood = flood
        self._catalogs = catalogs
        self._metrics = metrics
        self._staff_chat_id = staff_chat_id
        self.order = ChatOrder()

    async def handle(self, update: Update, *, patient: Callable[[], bool] = impatient) -> None:
        """Answer the update in its chat's order; raises when it could not be answered.

        `patient` tells whether a database outage is waited out (long polling, while it runs).
        """
        read = inbound(update, self._staff_chat_id)
        self._metrics.count_update(update_kind(update, read))
        if read is None:
            return
        # Flood control judges the update as it arrives, before it waits behind its chat's earlier ones.
        verdict = self._flood.judge(read) if isinstance(read, Incoming) and self._flood else Verdict.ANSWER
        async with self.order.turn(read.chat_id):
            started = time.perf_counter()
            try:
                match read:
                    case Incoming() if verdict is Verdict.ANSWER:
                        await self._turn(read, patient)
                    case Incoming() if self._flood is not None:
                        await self._flood.turn_away(self._bot, read, verdict)
                    case InGroup():
                        await self._leave_group(read.chat_id, explain=True)
                    case AddedToGroup():
                        await self._leave_group(read.chat_id, explain=False)
            finally:
                self._metrics.update_seconds.observe(time.perf_counter() - started)

    async def _turn(self, incoming: Incoming, patient: Callable[[], bool]) -> tuple[str, ...]:
        """One turn; a patient caller waits out a database outage instead of losing the update.

        A webhook delivery fails at once (503, and Telegram delivers it again). A polled update was
        confirmed to Telegram when the next batch was fetched, so this process alone holds it: it is
        tried again with backoff while the bot runs, and the chat's later updates wait behind it.
        """
        delay = DATABASE_RETRY_FIRST_SECONDS
        while True:
            try:
                return await self._conversations.handle(self._bot, incoming)
            except DATABASE_DOWN as error:
                if not patient():
                    raise
                log.warning(
                    "database unavailable (%s); answering the update in %.1fs", type(error).__name__, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, DATABASE_RETRY_MAX_SECONDS)

    async def _leave_group(self, chat_id: int, *, explain: bool) -> None:
        """Leave a group (people write to the bot privately), first saying why when someone wrote there."""
        if explain:
            _ = self._catalogs.get("nb").gettext
            why = _(
                "I only answer in private chats, so I am leaving this group. Write to me directly to talk."
            )
            await self._bot.send_message(chat_id, why)
        await self._bot.leave_chat(chat_id)

    def failed(self, error: Exception) -> bool:
        """Log a failure without the update (it holds ids and text); True when a redelivery can help.

        Telegram refusing a call for good (400: the message itself; 403: the reader blocked the bot)
        is no reason to deliver the update again: it would be refused again, so it is acknowledged.
        """
        self._metrics.update_errors.inc()
        if isinstance(error, BadRequest | Forbidden):
            log.warning("an update could not be answered (%s)", telegram_error(error))
            return False
        log.error("handling an update failed: %s", type(error).__name__, exc_info=error)
        # Anything but a curable failure (a bug, a value the database refuses) fails the same way
        # every time: a 503 would only have Telegram deliver it again for a day. It is acknowledged.
        return isinstance(error, CURABLE)
