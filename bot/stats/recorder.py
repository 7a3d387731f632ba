"""Moves the in-process tally to the database now and then, and once more when the bot stops."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.stats.counter import StatsCounter, stats_day
from bot.stats.store import SqlStatsStore

log = logging.getLogger(__name__)


class StatsRecorder:
    """Owns the tally the conversations count into, and flushes it with upserts that add up."""

    def __init__(
        self,
        store: SqlStatsStore,
        retention_days: int | Callable[[], int],
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        """`retention_days` may be a function, read at each flush (served: privacy.stats_retention_days)."""
        self.counter = StatsCounter()
        self._store = store
        self._retention_days = retention_days
        self._clock = clock
        self._expired_on: dt.date | None = None
        self._flushing: asyncio.Task[None] | None = None

    @classmethod
    def for_database(cls, engine: AsyncEngine, retention_days: int | Callable[[], int]) -> StatsRecorder:
        """A recorder storing into the daily_stats table of `engine`'s database."""
        return cls(SqlStatsStore(engine), retention_days)

    async def flush(self) -> None:
        """Add the tally to the database and delete days past retention; on failure keep the tally."""
        today = stats_day(self._clock())
        counts = self.counter.take()
        if not counts and self._expired_on == today:
            return  # nothing to add, and old days were already deleted today
        try:
            await self._store.add(counts, keep_from=today - self._retention())
        except Exception:
            self.counter.give_back(counts)
            raise
        self._expired_on = today

    def _retention(self) -> dt.timedelta:
        days = self._retention_days() if callable(self._retention_days) else self._retention_days
        return dt.timedelta(days=days)

    async def flush_forever(self, interval_seconds: float) -> None:
        """Flush every `interval_seconds` until cancelled; a database hiccup only delays the counts."""
        while True:
            await asyncio.sleep(interval_seconds)
            self._flushing = asyncio.create_task(self._flush_logged())
            # Shielded: a stop must not cut a flush off between commit and return (counts twice).
            await asyncio.shield(self._flushing)

    async def close(self) -> None:
        """The last flush, after updates in flight were answered (call when the bot stops)."""
        if self._flushing is not None and not self._flushing.done():
            await asyncio.wait([self._flushing])  # its own errors are logged by _flush_logged
        await self._flush_logged()

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except (OSError, SQLAlchemyError):
            log.exception("statistics could not be stored; trying again later")
