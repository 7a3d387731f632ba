"""From an `Incoming` to an answered update: flood control, the conversation's turn, metrics, failures.

Both ways an update arrives end here: PTB's handlers (long polling, and webhook updates that are not
ordinary private messages) and the webhook's direct path (`bot.telegram.raw_updates`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.logs import telegram_error
from bot.telegram.bot_api import BotApi
from bot.telegram.conversations import Conversations, Incoming
from bot.telegram.delivery import current_delivery
from bot.telegram.flood import FloodGuard
from bot.telegram.metrics import BotMetrics

log = logging.getLogger(__name__)
# Errors of a database that is down or locked for now, as opposed to a bug in a query.
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)
# Failures a later delivery of the same update can get past: the database or Telegram is away or
# busy for now. Only these answer a webhook delivery with 503.
CURABLE = (*DATABASE_DOWN, NetworkError, RetryAfter, TimeoutError, ConnectionError)
DATABASE_RETRY_FIRST_SECONDS = 0.5
DATABASE_RETRY_MAX_SECONDS = 5.0  # short: a stopping bot notices within this


class Answerer:
    """Answers one update of a private chat, and decides what a failure to answer means."""

    def __init__(
        self,
        api: BotApi,
        conversations: Conversations,
        *,
        running: Callable[[], bool],
        flood: FloodGuard | None = None,
        metrics: BotMetrics | None = None,
    ) -> None:
        """`running` tells whether the bot still runs (a polled update waits out a database outage)."""
        self._api = api
        self._conversations = conversations
        self._running = running
        self._flood = flood
        self._metrics = metrics

    async def answer(self, incoming: Incoming) -> None:
        """Answer the update (unless its chat is over its flood limit). Raises when it could not."""
        if self._flood is not None and not await self._flood.admit(self._api, incoming):
            return  # the chat is over its flood limit; the guard answered what needed an answer
        await self._turn(incoming)

    async def _turn(self, incoming: Incoming) -> tuple[str, ...]:
        """One turn; a polled update waits out a database outage instead of being lost.

        A webhook delivery fails at once (503, and Telegram delivers it again). A polled update was
        confirmed to Telegram when the next batch was fetched, so this process alone holds it: it is
        tried again with backoff while the bot runs, and the chat's later updates wait behind it.
        """
        delay = DATABASE_RETRY_FIRST_SECONDS
        while True:
            try:
                return await self._conversations.handle(self._api, incoming)
            except DATABASE_DOWN as error:
                if current_delivery.get() is not None or not self._running():
                    raise
                log.warning(
                    "database unavailable (%s); answering the update in %.1fs", type(error).__name__, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, DATABASE_RETRY_MAX_SECONDS)

    def failed(self, error: BaseException | None) -> None:
        """Log a failure without the update (it holds ids and text); a webhook delivery then gets 503.

        Telegram refusing a call for good (400: the message itself; 403: the reader blocked the bot)
        is no reason to deliver the update again: it would be refused again, so it is acknowledged.
        """
        if self._metrics is not None:
            self._metrics.update_errors.inc()
        if isinstance(error, BadRequest | Forbidden):
            log.warning("an update could not be answered (%s)", telegram_error(error))
            return
        delivery = current_delivery.get()
        if delivery is not None and isinstance(error, CURABLE):
            delivery.error = error
        # Anything else (a bug, a value the database refuses) fails the same way every time: a 503
        # would only have Telegram deliver it again for a day. It is acknowledged, and logged.
        log.error("handling an update failed: %s", type(error).__name__, exc_info=error)
