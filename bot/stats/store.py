"""The statistics table: flushes add to the stored counts; reads return them per day and node."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Table, delete, func, inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel

from bot.storage.database import async_url, create_engine
from bot.storage.tables import STATS_TABLE

StoredCount = tuple[dt.date, str, int]


@dataclass(frozen=True)
class StoredCounts:
    """Exact counts of some days, and since when anything was counted at all."""

    since: dt.date | None
    counts: list[StoredCount]


class SqlStatsStore:
    """The daily_stats table on SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._table: Table = SQLModel.metadata.tables[STATS_TABLE]
        dialect = engine.dialect.name
        self._insert: Any = pg_insert if dialect == "postgresql" else sqlite_insert

    async def add(self, counts: Mapping[tuple[dt.date, str], int], keep_from: dt.date) -> None:
        """Add `counts` to the stored ones and delete days before `keep_from`, in one transaction."""
        t = self._table
        # Sorted, so two replicas flushing at once lock rows in the same order and never deadlock.
        rows = [{"day": day, "node": node, "count": n} for (day, node), n in sorted(counts.items()) if n > 0]
        async with self._engine.begin() as conn:
            if rows:
                statement = self._insert(t)
                statement = statement.on_conflict_do_update(
                    index_elements=["day", "node"],
                    set_={"count": t.c["count"] + statement.excluded["count"]},
                )
                await conn.execute(statement, rows)
            await conn.execute(delete(t).where(t.c.day < keep_from))

    async def read(self, first: dt.date, last: dt.date) -> StoredCounts:
        """The counts from `first` to `last` (inclusive) and the first day ever counted (None: never)."""
        t = self._table
        async with self._engine.connect() as conn:
            if not await _has_table(conn):
                return StoredCounts(None, [])
            since = (await conn.execute(select(func.min(t.c.day)))).scalar_one_or_none()
            result = await conn.execute(
                select(t.c.day, t.c.node, t.c["count"])
                .where(t.c.day >= first, t.c.day <= last)
                .order_by(t.c.day, t.c.node)
            )
            return StoredCounts(since, [(row[0], row[1], int(row[2])) for row in result.all()])

    async def close(self) -> None:
        """Dispose of the connection pool."""
        await self._engine.dispose()


async def read_counts(database_url: str, first: dt.date, last: dt.date) -> StoredCounts:
    """The stored counts in a database named by URL; a missing SQLite file is not created, just empty."""
    if _missing_sqlite_file(database_url):
        return StoredCounts(None, [])
    store = SqlStatsStore(create_engine(database_url))
    try:
        return await store.read(first, last)
    finally:
        await store.close()


def _missing_sqlite_file(database_url: str) -> bool:
    """True for an SQLite file that does not exist (connecting would create an empty one)."""
    parsed = async_url(database_url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).is_file()


async def _has_table(conn: AsyncConnection) -> bool:
    """Whether the migration that creates the table has run (a database `serve` never opened has none)."""
    return bool(await conn.run_sync(lambda sync: inspect(sync).has_table(STATS_TABLE)))
