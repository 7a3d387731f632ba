"""Long polling (no WEBHOOK_URL): PTB's Updater fetches updates, `Answerer.handle` answers them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from telegram import Bot, Update
from telegram.ext import Updater

from bot.telegram.answering import Answerer

log = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
FETCHED_ALL = object()  # put in the queue after the last update, when polling stops
GUARD_SECONDS = 1.0  # how often long polling checks that the database is there


@asynccontextmanager
async def polling(
    bot: Bot, answerer: Answerer, healthy: Callable[[], Awaitable[bool]], max_concurrent: int
) -> AsyncIterator[None]:
    """Poll and answer until the block ends; then stop fetching and finish the updates in flight.

    Up to `max_concurrent` updates are answered at once, each chat's in order (the Answerer keeps
    it: updates are started in the order they were fetched). While the database is unreachable
    polling pauses: what was fetched waits the outage out, the rest stays with Telegram.
    """
    queue: asyncio.Queue[object] = asyncio.Queue()
    updater = Updater(bot, queue)
    # The bot is initialised by its owner already, and shut down by it: so no `async with updater`,
    # whose exit would shut the bot down under the parts that still send (the staff chat).
    await updater.initialize()
    running = True
    slots = asyncio.Semaphore(max_concurrent)
    in_flight: set[asyncio.Task[None]] = set()

    def still_running() -> bool:
        return running

    async def answer(update: Update) -> None:
        try:
            await answerer.handle(update, patient=still_running)
        except Exception as error:  # logged and counted; a polled update is not fetched again
            answerer.failed(error)
        finally:
            slots.release()

    async def consume() -> None:
        while (update := await queue.get()) is not FETCHED_ALL:
            if not isinstance(update, Update):
                continue
            await slots.acquire()
            task = asyncio.create_task(answer(update), name="polled update")
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)

    async def pause_while_database_is_away() -> None:
        # Updates already fetched are retried in the process (see Answerer); new ones stay with
        # Telegram, which keeps them for 24 hours, instead of piling up in memory.
        while True:
            await asyncio.sleep(GUARD_SECONDS)
            reachable = await healthy()
            if not reachable and updater.running:
                log.warning("database unreachable: long polling paused")
                await updater.stop()
            elif reachable and not updater.running:
                log.info("database reachable again: long polling resumed")
                await updater.start_polling(allowed_updates=ALLOWED_UPDATES)

    await updater.start_polling(allowed_updates=ALLOWED_UPDATES)
    consumer = asyncio.create_task(consume(), name="polled updates")
    guard = asyncio.create_task(pause_while_database_is_away(), name="polling guard")
    try:
        yield
    finally:
        running = False
        guard.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await guard
        if updater.running:
            await updater.stop()
        # What was fetched is answered still: Telegram counts it as delivered.
        await queue.put(FETCHED_ALL)
        await consumer
        await asyncio.gather(*in_flight, return_exceptions=True)
