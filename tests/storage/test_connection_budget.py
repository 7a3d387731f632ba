"""The connection budget: replicas × (pool + overflow) must fit in the PostgreSQL server's connections."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.database import ConnectionBudgetError, check_connection_budget, create_engine
from tests.conftest import ROOT, run_balansebot
from tests.databases import fresh_postgres


@pytest.fixture
def url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database."""
    with fresh_postgres() as database_url:
        yield database_url


@pytest.fixture
async def database(url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on it."""
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


def server_settings(url: str) -> tuple[int, int]:
    """The server's max_connections, and how many of them are kept for superusers."""
    with psycopg.connect(url) as conn:
        maximum = conn.execute("SHOW max_connections").fetchone()
        reserved = conn.execute("SHOW superuser_reserved_connections").fetchone()
    assert maximum is not None and reserved is not None
    return int(maximum[0]), int(reserved[0])


def server_connections(url: str) -> int:
    """What the server takes from ordinary users: max_connections minus the superusers' share."""
    maximum, reserved = server_settings(url)
    return maximum - reserved


async def test_replicas_that_fit_start_and_those_that_do_not_are_refused(
    url: str, database: AsyncEngine
) -> None:
    available = server_connections(url)
    await check_connection_budget(database, 1, available, 0)  # exactly full is allowed
    await check_connection_budget(database, 3, 10, 20)  # the defaults, three replicas
    with pytest.raises(ConnectionBudgetError) as refused:
        await check_connection_budget(database, 2, available // 2 + 1, 0)
    message = str(refused.value)
    assert "\n" not in message
    assert f"DATABASE_REPLICAS=2 × (DATABASE_POOL_SIZE={available // 2 + 1}" in message
    assert f"the server takes {available}" in message


async def test_sqlite_has_no_budget(tmp_path: Path) -> None:
    sqlite = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        await check_connection_budget(sqlite, 1000, 1000, 1000)
    finally:
        await sqlite.dispose()


@pytest.mark.slow
@pytest.mark.own_database
def test_serve_refuses_to_start_over_budget_with_one_line(url: str, tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "BOT_TOKEN": "123456789:AAFakeTokenForOfflineTestsOnly_abcdefgh",
        "BOT_API_URL": "http://127.0.0.1:9/bot",  # never reached: the budget is checked first
        "DATABASE_URL": url,
        "PSEUDONYM_KEY": "budget-test-pseudonym-key-0123456789abcdef",
        "DATABASE_REPLICAS": "4",
        "DATABASE_POOL_SIZE": "20",
        "DATABASE_MAX_OVERFLOW": "10",
        "KEY_FILE": str(tmp_path / "key"),
        "LANG": "en_GB.UTF-8",  # an operator whose tools speak English (Bokmål is the default)
    }
    maximum, reserved = server_settings(url)
    result = run_balansebot("serve", cwd=ROOT, env=env)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("balansebot:")]
    assert lines == [
        f"balansebot: DATABASE_REPLICAS=4 × (DATABASE_POOL_SIZE=20 + DATABASE_MAX_OVERFLOW=10) = 120 "
        f"connections, but the server takes {maximum - reserved} (max_connections {maximum} minus "
        f"{reserved} reserved): lower the pool or raise max_connections"
    ]
    assert "Traceback" not in result.stderr
