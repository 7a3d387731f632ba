"""A replica in miniature: count answers and flush them, many times, into one database.

Run as `python -m tests.stats.flusher URL GO_FILE ROUNDS NODE…`; it starts flushing when GO_FILE
exists, so that several processes flush at the same moments.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import time
from pathlib import Path

from bot.engine.model import ChatState, Outcome
from bot.stats.recorder import StatsRecorder
from bot.stats.store import SqlStatsStore
from bot.storage.database import create_engine

NOON = dt.datetime(2026, 12, 14, 11, 0, tzinfo=dt.UTC)
PER_ROUND = 3


def wait_for(go: Path) -> None:
    """Until the file exists (or 30 s have passed)."""
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)


async def flush_rounds(url: str, go: Path, rounds: int, nodes: list[str]) -> None:
    """Wait for the go file, then count PER_ROUND answers per node and flush, `rounds` times."""
    recorder = StatsRecorder(SqlStatsStore(create_engine(url)), 400, lambda: NOON)
    await recorder.flush()  # connected before the start, so both start flushing together
    await asyncio.to_thread(wait_for, go)
    for _ in range(rounds):
        for node in nodes:
            for _ in range(PER_ROUND):
                recorder.counter.record(Outcome((), ChatState(), route="node", nodes=(node,)), NOON)
        await recorder.flush()
    await recorder.close()
    await recorder._store.close()


if __name__ == "__main__":
    url, go_file, rounds, *node_ids = sys.argv[1:]
    asyncio.run(flush_rounds(url, Path(go_file), int(rounds), node_ids))
