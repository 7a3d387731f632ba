"""SQLite's connection settings: a new database file switched to WAL even by two processes at once."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from bot.storage.database import _write_ahead_log


def test_a_refused_switch_to_wal_is_asked_again_until_the_file_is_free(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, timeout=0, check_same_thread=False, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")  # as another process switching the new file, or writing to it
    opener = sqlite3.connect(path, timeout=0, isolation_level=None)  # no waiting: refused at once
    try:
        refused = None
        try:
            opener.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            refused = str(error)
        assert refused == "database is locked", "SQLite refuses the switch while the file is held"
        release = threading.Timer(0.3, holder.execute, ("COMMIT",))
        release.start()
        _write_ahead_log(opener.cursor())  # asks again until the holder lets go
        release.join()
        assert opener.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        opener.close()
        holder.close()
