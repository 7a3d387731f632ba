"""Real databases for tests: a fresh SQLite file, or a fresh PostgreSQL database on a reachable server."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

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
