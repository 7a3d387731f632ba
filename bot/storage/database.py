"""Database URLs and engines: the plain URLs hosting platforms hand out, made async and tuned."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.staff_words import say

log = logging.getLogger(__name__)
SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_WAL_SWITCH_TRIES = 100  # 5 s in all
POSTGRES_LOCK_TIMEOUT_MS = 10_000


def async_url(url: str) -> URL:
    """`sqlite:///x.db` → aiosqlite; `postgres://` or `postgresql://` → psycopg (async)."""
    parsed = make_url(
        url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url
    )
    if parsed.drivername == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def sync_url(url: str) -> URL:
    """The same database for synchronous tools (Alembic migrations)."""
    parsed = async_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        return parsed.set(drivername="sqlite")
    return parsed


def is_sqlite(url: str) -> bool:
    """True for an SQLite database."""
    return async_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite database URL; None for PostgreSQL and for an in-memory SQLite."""
    parsed = async_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def database_unreachable(error: Exception) -> str:
    """One line for an operator on why the database could not be used (never the URL's password)."""
    reason = getattr(error, "orig", None) or error  # the driver's own words, without SQLAlchemy's SQL
    first = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
    return say(
        "the database cannot be used ({reason}); check that it is running and that DATABASE_URL "
        "names it (host, port, database, user and password)",
        reason=first,
    )


def restrict_sqlite_files(url: str) -> None:
    """Keep an SQLite database and its folder to the owner (0600 files, 0700 folder).

    `serve` sets umask 077, so what SQLite creates from now on is owner-only; this fixes files made
    before, and the folder. The current directory is left as it is (it is not the bot's to close),
    with a warning that the database is better kept in a folder of its own.
    """
    path = sqlite_path(url)
    if path is None:
        return
    folder = path.resolve().parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder == Path.cwd().resolve():
        if folder.stat().st_mode & 0o077:
            log.warning(
                "the SQLite database is in the current folder, which others may read; "
                "point DATABASE_URL at a folder of its own (it is then made owner-only)"
            )
    else:
        folder.chmod(0o700)
    for suffix in ("", "-wal", "-shm", "-journal"):
        file = Path(f"{path}{suffix}")
        if file.exists():
            os.chmod(file, 0o600)


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and relaxed fsync (safe with WAL).

    On PostgreSQL every update in flight holds a connection for its whole turn (the chat's lock is
    tied to it), so `pool_size + max_overflow` bounds the updates a replica answers at once.

    A failed statement's parameters stay out of its error message, and so out of the logs: they
    hold an open form's answers (a contact person's name and e-mail) and chat pseudonyms.
    """
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        # Two connections: batched saves (one writer at a time, see bot.storage.batching) beside
        # batched loads, which WAL lets read meanwhile. More writers would only meet SQLite's busy
        # handler, which sleeps and retries (seen: a p99 of seconds).
        engine = create_async_engine(
            parsed, pool_size=2, max_overflow=0, pool_timeout=30, hide_parameters=True
        )
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return create_async_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        hide_parameters=True,
        # A replica that holds a chat's lock longer than this is stuck; the other gives way (its
        # update is answered 503 and Telegram redelivers it) instead of waiting without end.
        connect_args={"options": f"-c lock_timeout={POSTGRES_LOCK_TIMEOUT_MS}"},
    )


class ConnectionBudgetError(RuntimeError):
    """The replicas could open more connections than the PostgreSQL server takes."""


async def check_connection_budget(
    database: AsyncEngine, replicas: int, pool_size: int, max_overflow: int
) -> None:
    """Refuse to start when replicas × (pool + overflow) would not fit in the server's connections.

    Past that, a replica under load waits for a connection the server refuses, and the error comes
    at the worst moment rather than at start. Superusers' reserved slots are not counted as free.
    """
    if database.dialect.name != "postgresql":
        return
    async with database.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT current_setting('max_connections')::int,"
                    " current_setting('superuser_reserved_connections')::int"
                )
            )
        ).one()
    max_connections, reserved = int(row[0]), int(row[1])
    needed, available = replicas * (pool_size + max_overflow), max_connections - reserved
    if needed > available:
        raise ConnectionBudgetError(
            say(
                "DATABASE_REPLICAS={replicas} × (DATABASE_POOL_SIZE={pool_size} + DATABASE_MAX_OVERFLOW="
                "{max_overflow}) = {needed} connections, but the server takes {available} "
                "(max_connections {max_connections} minus {reserved} reserved): lower the pool or raise "
                "max_connections",
                replicas=replicas,
                pool_size=pool_size,
                max_overflow=max_overflow,
                needed=needed,
                available=available,
                max_connections=max_connections,
                reserved=reserved,
            )
        )


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")  # first: the next one may wait
    _write_ahead_log(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted rows are overwritten with zeros in their pages, whatever the build's default is
    # (Debian's happens to be on, others' off); erase_deleted() then clears the WAL's old copies.
    cursor.execute("PRAGMA secure_delete=ON")
    # A WAL that is reset after a checkpoint shrinks to nothing instead of keeping old frames.
    cursor.execute("PRAGMA journal_size_limit=0")
    cursor.close()


def _write_ahead_log(cursor: Any) -> None:
    """WAL, once per database file (it stays so). Two processes opening a new file at the same
    moment both switch it, and SQLite may refuse one at once rather than wait (waiting could
    deadlock): that one asks again, and finds the file switched."""
    for attempt in range(SQLITE_WAL_SWITCH_TRIES):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == SQLITE_WAL_SWITCH_TRIES - 1:
                raise
            time.sleep(0.05)  # on the driver's own thread (aiosqlite's), never the event loop


async def erase_deleted(engine: AsyncEngine, tables: Sequence[str]) -> None:
    """Make rows deleted or overwritten in `tables` unreadable in the database's files, now.

    SQLite zeroes deleted content in its pages (secure_delete), but the write-ahead log still holds
    the earlier versions of those pages: a TRUNCATE checkpoint copies the log into the database and
    empties it. PostgreSQL never overwrites a row in place (MVCC): a deleted or updated row stays in
    the table's pages, and its key in the indexes, until vacuumed; VACUUM FULL writes the tables
    (and their indexes) afresh without them. See docs/operations.md, "Deletion on disk".
    Failures are logged, not raised: the deletion itself is committed, and every expiry run erases
    again.
    """
    try:
        async with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                # (busy, WAL frames, frames checkpointed): busy means a reader or writer held it back.
                checkpoint = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()
                if checkpoint[0]:
                    log.warning("erasing deleted data: the WAL is in use; the next expiry run tries again")
                return
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in tables:
                await conn.exec_driver_sql(f'VACUUM FULL "{table}"')
    except (OSError, SQLAlchemyError) as error:
        log.warning("erasing deleted data failed (%s); the next expiry run tries again", type(error).__name__)
