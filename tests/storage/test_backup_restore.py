"""docs/operations.md's backup and restore, run: back up, wipe, restore, and every chat is found again."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from bot.engine.model import ChatState
from bot.storage import migrate
from bot.storage.database import create_engine
from bot.storage.pseudonym import Pseudonymizer
from bot.storage.store import SqlChatStore, StoredChat
from tests.conftest import ROOT
from tests.databases import fresh_postgres

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
KEY = b"backed-up-apart-from-the-database-0123456789"
CHATS = {
    1001 + i: ChatState(node=node, lang=lang)
    for i, (node, lang) in enumerate([("telefon", "nb"), ("merket", "nn"), ("om", "en"), ("start", "nb")])
}

pytestmark = pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")


def script(name: str, *args: str) -> None:
    """Run one of the scripts the guide names, as an operator would."""
    subprocess.run([str(ROOT / "scripts" / name), *args], check=True, capture_output=True, timeout=60)


async def found(url: str, key: bytes) -> dict[int, ChatState]:
    """Every test chat the bot would find with `key`."""
    store = SqlChatStore(create_engine(url))
    try:
        pseudonyms = Pseudonymizer(key)
        loaded = {chat_id: await store.load(pseudonyms.chat_key(chat_id)) for chat_id in CHATS}
    finally:
        await store.close()
    return {chat_id: chat.state for chat_id, chat in loaded.items() if chat is not None}


async def test_back_up_wipe_restore_finds_every_chat(tmp_path: Path) -> None:
    with fresh_postgres() as url:
        migrate.upgrade(url)
        store = SqlChatStore(create_engine(url))
        pseudonyms = Pseudonymizer(KEY)
        for chat_id, state in CHATS.items():
            await store.save(pseudonyms.chat_key(chat_id), StoredChat(state), NOW)
        await store.close()

        backup = tmp_path / "balansebot.dump"
        script("backup-postgres", url, str(backup))
        assert backup.stat().st_mode & 0o077 == 0, "the dump is the owner's alone"
        assert KEY not in backup.read_bytes(), "the key is never in the database backup"

        with psycopg.connect(url, autocommit=True) as wipe:  # the disk is lost
            wipe.execute("DROP SCHEMA public CASCADE")
            wipe.execute("CREATE SCHEMA public")
            tables = wipe.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,)

        script("restore-postgres", url, str(backup))
        migrate.upgrade(url)  # as serve does at start; nothing to do for a backup of this version
        assert await found(url, KEY) == CHATS, "every chat is found again with the backed-up key"
        assert await found(url, b"a-new-key-made-up-after-the-loss-0123456789") == {}, (
            "without the key the restored chats are orphaned"
        )
