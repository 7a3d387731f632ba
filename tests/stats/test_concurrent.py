"""Two processes (replicas) flushing into one database at the same moments: every count adds up."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from bot.storage import migrate
from tests.conftest import ROOT
from tests.databases import fresh_database
from tests.stats.flusher import PER_ROUND
from tests.stats.test_store import TODAY, stored_rows

ROUNDS = 40
NODES = ["meny", "start", "telefon", "merket", "hjelp"]


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
async def test_two_processes_flushing_at_once_add_up(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as url:
        migrate.upgrade(url)
        go = tmp_path / "go"
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.stats.flusher",
                url,
                str(go),
                str(ROUNDS),
                *order,
                cwd=ROOT,
                stderr=asyncio.subprocess.PIPE,
            )
            for order in (NODES, NODES[::-1])  # opposite orders: the store must still not deadlock
        ]
        await asyncio.sleep(1.0)  # both have imported and connected by now, most likely
        go.touch()
        for process in processes:
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 0, stderr.decode()
            assert b"Traceback" not in stderr, stderr.decode()
        expected = 2 * ROUNDS * PER_ROUND
        assert stored_rows(url) == sorted((TODAY, node, expected) for node in NODES)
