"""The chat store on real SQLite and PostgreSQL: state survives, expires, and is forgotten on request."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.exc import DBAPIError

from bot.engine.form import InterestForm
from bot.engine.model import ChatState
from bot.storage import migrate
from bot.storage.database import create_engine
from bot.storage.store import MAX_TRACKED_MESSAGES, ExpiryRules, SqlChatStore, StoredChat
from tests.databases import fresh_database, fresh_postgres

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
WINDOW = dt.timedelta(hours=48)
RETENTION = dt.timedelta(days=30)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlChatStore]:
    """A migrated, empty store on each database."""
    with fresh_database(request.param, tmp_path) as url:
        migrate.upgrade(url)
        chat_store = SqlChatStore(create_engine(url))
        yield chat_store
        await chat_store.close()


async def test_unknown_chat_is_none(store: SqlChatStore) -> None:
    assert await store.load("0" * 64) is None


async def test_save_and_load_round_trip(store: SqlChatStore) -> None:
    chat = StoredChat(ChatState(node="telefon", lang="nb")).remember([10, 11], NOW, WINDOW, 11)
    await store.save("a" * 64, chat, NOW)
    assert await store.load("a" * 64) == chat
    moved = StoredChat(ChatState(node="merket", lang="nb"), chat.messages, 11)
    await store.save("a" * 64, moved, NOW)
    assert await store.load("a" * 64) == moved


async def test_forget_returns_what_was_stored_and_deletes_it(store: SqlChatStore) -> None:
    chat = StoredChat(ChatState(node="usikker")).remember([5], NOW, WINDOW, 5)
    await store.save("b" * 64, chat, NOW)
    assert await store.forget("b" * 64) == chat
    assert await store.load("b" * 64) is None
    assert await store.forget("b" * 64) is None


async def test_expiry_deletes_old_chats_and_old_message_ids(store: SqlChatStore) -> None:
    old = StoredChat(ChatState(node="om")).remember([1], NOW - dt.timedelta(days=31), WINDOW, 1)
    quiet = StoredChat(ChatState(node="telefon")).remember([2], NOW - dt.timedelta(hours=49), WINDOW, 2)
    fresh = StoredChat(ChatState(node="merket")).remember([3], NOW, WINDOW, 3)
    await store.save("o" * 64, old, NOW - dt.timedelta(days=31))
    await store.save("q" * 64, quiet, NOW - dt.timedelta(hours=49))
    await store.save("f" * 64, fresh, NOW)
    report = await store.expire(NOW, ExpiryRules(RETENTION, WINDOW))
    assert (report.chats_deleted, report.message_lists_cleared) == (1, 1)
    assert await store.load("o" * 64) is None
    quiet_now = await store.load("q" * 64)
    assert quiet_now == StoredChat(ChatState(node="telefon"))
    assert await store.load("f" * 64) == fresh
    again = await store.expire(NOW, ExpiryRules(RETENTION, WINDOW))
    assert (again.chats_deleted, again.message_lists_cleared) == (0, 0)


def test_remember_drops_ids_older_than_the_window_and_stays_bounded() -> None:
    chat = StoredChat(ChatState()).remember([1, 2], NOW - dt.timedelta(hours=50), WINDOW, 2)
    chat = chat.remember([3], NOW, WINDOW, 3)
    assert [m for m, _ in chat.messages] == [3]
    many = chat.remember(list(range(100, 100 + 3 * MAX_TRACKED_MESSAGES)), NOW, WINDOW, None)
    assert len(many.messages) == MAX_TRACKED_MESSAGES
    assert many.last_bot_message_id == 3


async def test_expiry_empties_a_form_left_unfinished_and_keeps_the_chat(store: SqlChatStore) -> None:
    form = InterestForm(answers=(("organisation", "Glemt Teater"),))
    abandoned = StoredChat(ChatState(node="skjema", lang="nb", form=form))
    await store.save("a" * 64, abandoned, NOW - dt.timedelta(hours=7))
    await store.save("b" * 64, abandoned, NOW)
    report = await store.expire(NOW, ExpiryRules(RETENTION, WINDOW, dt.timedelta(hours=6)))
    assert report.forms_emptied == 1
    assert await store.load("a" * 64) == StoredChat(ChatState(node="skjema", lang="nb"))
    stored = await store.load("b" * 64)
    assert stored is not None and stored.state.form == form, "a form in use is left alone"


async def test_ping(store: SqlChatStore) -> None:
    await store.ping()


async def test_ping_fails_when_the_database_takes_reads_but_no_writes() -> None:
    """A PostgreSQL standby (or a database set read-only) answers SELECT 1 but stores nothing."""
    with fresh_postgres() as url:
        migrate.upgrade(url)
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        read_only = SqlChatStore(create_engine(url))
        try:
            assert await read_only.load("a" * 64) is None, "reads still work"
            with pytest.raises(DBAPIError, match="read-only transaction"):
                await read_only.ping()
        finally:
            await read_only.close()


async def test_migrations_run_twice_without_harm(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as url:
        migrate.upgrade(url)
        migrate.upgrade(url)


async def test_sqlite_overwrites_deleted_rows_whatever_its_build_default(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'chats.db'}")
    try:
        async with engine.connect() as conn:
            secure_delete = (await conn.exec_driver_sql("PRAGMA secure_delete")).scalar()
            journal_limit = (await conn.exec_driver_sql("PRAGMA journal_size_limit")).scalar()
    finally:
        await engine.dispose()
    assert (secure_delete, journal_limit) == (1, 0)
