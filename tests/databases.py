"""Real databases for tests: a fresh SQLite file, or a fresh PostgreSQL database on a reachable server."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy
from sqlmodel import SQLModel

import bot.storage.tables  # noqa: F401 - registers the tables on SQLModel.metadata
from bot.storage.database import sync_url

# The local PostgreSQL server on this machine (trust auth); override with TEST_DATABASE_URL.
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str | None:
    """The PostgreSQL server to create test databases on, or None when none answers."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES)
    try:
        with psycopg.connect(url, connect_timeout=3):
            return url
    except psycopg.OperationalError:
        return None


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    admin = postgres_admin_url()
    if admin is None:
        if os.environ.get("CI"):
            pytest.fail("CI must test on PostgreSQL, but no server answered at TEST_DATABASE_URL")
        pytest.skip("no PostgreSQL server reachable (set TEST_DATABASE_URL)")
    name = f"balansebot_test_{secrets.token_hex(6)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL of `kind` ('sqlite' or 'postgresql')."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'balansebot.db'}"
    else:
        with fresh_postgres() as url:
            yield url


# ----------------------------------------------------------------- the bot's database in end-to-end tests

SERVE_DATABASE_VARIABLE = "TEST_SERVE_DATABASE"  # "sqlite" (default) or "postgresql"
_serve_databases: dict[Path, str] = {}


def serve_database_url(data: Path) -> str:
    """The database of a bot serving from folder `data`: an SQLite file there, or (with
    TEST_SERVE_DATABASE=postgresql) a PostgreSQL database of its own, kept until the test ends so a
    restarted bot finds its data again."""
    if os.environ.get(SERVE_DATABASE_VARIABLE, "sqlite") != "postgresql":
        return f"sqlite:///{data / 'balansebot.db'}"
    if data not in _serve_databases:
        admin = postgres_admin_url()
        if admin is None:
            pytest.fail(f"{SERVE_DATABASE_VARIABLE}=postgresql, but no server answers at TEST_DATABASE_URL")
        name = f"balansebot_e2e_{secrets.token_hex(6)}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        _serve_databases[data] = f"{admin.rsplit('/', 1)[0]}/{name}"
    return _serve_databases[data]


def drop_serve_databases() -> None:
    """Drop the PostgreSQL databases end-to-end tests made."""
    admin = postgres_admin_url() if _serve_databases else None
    if admin is not None:
        with psycopg.connect(admin, autocommit=True) as conn:
            for url in _serve_databases.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    _serve_databases.clear()


def query(database_url: str, sql: str, **params: object) -> list[tuple[Any, ...]]:
    """Run one SQL statement on the bot's database (SQLite or PostgreSQL) and return its rows."""
    engine = sqlalchemy.create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            result = conn.execute(sqlalchemy.text(sql), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def database_bytes(database_url: str) -> bytes:
    """Everything the bot's database holds, as bytes to search: the SQLite files (with the WAL), or
    every row of every table of the PostgreSQL database as text."""
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        return b"".join(
            Path(f"{path}{suffix}").read_bytes()
            for suffix in ("", "-wal", "-shm")
            if Path(f"{path}{suffix}").exists()
        )
    tables = [
        name for (name,) in query(database_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    rows = [
        text
        for table in tables
        for (text,) in query(database_url, f'SELECT t::text FROM "{table}" t')  # noqa: S608
    ]
    return "\n".join(rows).encode()


def raw_database_bytes(database_url: str) -> bytes:
    """The database as stored, deleted rows not yet overwritten included: SQLite's files (with the
    WAL), or every page of every table, index and TOAST table of the PostgreSQL database as the
    server holds it (pageinspect's get_raw_page; the server's files are not ours to read)."""
    if database_url.startswith("sqlite:///"):
        return database_bytes(database_url)
    query(database_url, "CREATE EXTENSION IF NOT EXISTS pageinspect")
    relations = query(
        database_url,
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'i', 't', 'm') AND n.nspname IN ('public', 'pg_toast')",
    )
    pages = [
        page
        for (relation,) in relations
        for (page,) in query(
            database_url,
            "SELECT get_raw_page(CAST(:relation AS text), 'main', block) "
            "FROM generate_series(0, pg_relation_size(CAST(:relation AS regclass)) / 8192 - 1) AS block",
            relation=relation,
        )
    ]
    return b"".join(pages)


def insert_rows(database_url: str, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows into one of the bot's tables (the schema must be migrated)."""
    engine = sqlalchemy.create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            conn.execute(SQLModel.metadata.tables[table].insert(), rows)
    finally:
        engine.dispose()


def as_json(value: Any) -> Any:
    """A JSON column's value as Python data: SQLite hands back text, PostgreSQL parsed JSON."""
    return json.loads(value) if isinstance(value, str) else value
