"""Replicas starting together migrate one after another: Alembic runs under a PostgreSQL advisory lock."""

from __future__ import annotations

import ast
import subprocess
import sys
import time

import psycopg
import pytest
from alembic.script import ScriptDirectory

from bot.storage import migrate
from tests.conftest import ROOT
from tests.databases import fresh_postgres

pytestmark = [pytest.mark.slow, pytest.mark.own_database]
REPLICAS = 3
UPGRADE = "import sys; from bot.storage import migrate; migrate.upgrade(sys.argv[1])"


def migration_lock_id() -> int:
    """MIGRATION_LOCK_ID from the Alembic env.py (which cannot be imported: it migrates on import)."""
    tree = ast.parse((migrate.MIGRATIONS / "env.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "MIGRATION_LOCK_ID" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            assert isinstance(value, int)
            return value
    raise AssertionError("env.py has no MIGRATION_LOCK_ID")


def test_replicas_wait_for_the_lock_then_all_migrate() -> None:
    """While the lock is held nobody migrates; released, all finish and the schema is at head once."""
    head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    with fresh_postgres() as url, psycopg.connect(url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (migration_lock_id(),))
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", UPGRADE, url],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(REPLICAS)
        ]
        try:
            time.sleep(3)  # long enough for each to import, connect and reach the lock
            assert [p.poll() for p in processes] == [None] * REPLICAS, "they wait for the lock"
            tables = holder.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
            assert tables == (0,), "nothing was created while the lock was held"
            holder.execute("SELECT pg_advisory_unlock(%s)", (migration_lock_id(),))
            results = [p.communicate(timeout=60) for p in processes]
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
        assert [p.returncode for p in processes] == [0] * REPLICAS, results
        versions = holder.execute("SELECT version_num FROM alembic_version").fetchall()
        assert versions == [(head,)]
