"""`balansebot serve` counts real conversations; after SIGTERM `balansebot stats` shows them."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest

from tests.conftest import run_balansebot
from tests.databases import query
from tests.support.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.serving import serving

pytestmark = pytest.mark.slow
GIBBERISH = "xqzv blorf"  # routes to the fallback


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API."""
    async with FakeBotApi() as server:
        yield server


async def converse(fake: FakeBotApi, person: FakeUser, typed: str | None, command: str | None) -> None:
    """/start, then maybe a typed message, then maybe a command; waits for every answer."""
    fake.send_command(person, "start")
    await fake.wait_for_bot_messages(person, 1)
    sent = 1
    for say in (typed, command):
        if say is None:
            continue
        sent += 1
        if say is typed:
            fake.send_text(person, say)
        else:
            fake.send_command(person, say)
        await fake.wait_for_bot_messages(person, sent)


def stats_rows(database_url: str, cwd: Path) -> dict[str, list[str]]:
    """`balansebot stats` on the bot's database: the cells of each row, by row name."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": database_url}
    result = run_balansebot("stats", "--days", "2", env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    return {cells[0]: cells[1:] for line in lines if len(cells := re.split(r"\s{2,}", line.strip())) > 1}


async def test_counts_survive_a_stop_and_are_shown_suppressed(fake: FakeBotApi, tmp_path: Path) -> None:
    people = [fake.add_user(f"Person {n}", username=f"person_{n}") for n in range(6)]
    # Far beyond the test's length: whatever is stored, the stop stored.
    async with serving(fake, tmp_path, webhook=False, STATS_FLUSH_SECONDS="600") as served:
        # All six start, five type something the bot does not understand, two ask for the phone.
        typed = [GIBBERISH] * 5 + [None]
        commands = ["telefon"] * 2 + [None] * 4
        await asyncio.gather(*map(partial(converse, fake), people, typed, commands))
        [(stored_while_running,)] = query(served.database_url, "SELECT count(*) FROM daily_stats")
    assert stored_while_running == 0, "nothing stored yet while running…"
    rows = stats_rows(served.database_url, tmp_path)  # … and when SIGTERM stopped it
    assert rows["start"][-1] == "6"
    assert rows["(ikke forstått)"][-1] == "5"
    assert rows["telefon"][-1] == "≥1", "2 people: shown only as <5"
    assert "<5" in rows["telefon"]
    assert "Traceback" not in served.log_text()
    stored = query(served.database_url, "SELECT node, count FROM daily_stats ORDER BY node")
    assert stored == [("*fallback", 5), ("start", 6), ("telefon", 2)]
    secrets = [str(p.id) for p in people] + [p.first_name for p in people] + [GIBBERISH]
    for secret in secrets:
        assert secret not in repr(stored)


async def test_counts_are_flushed_while_serving(fake: FakeBotApi, tmp_path: Path) -> None:
    kari = fake.add_user("Kari")
    async with serving(fake, tmp_path, webhook=False, STATS_FLUSH_SECONDS="0.2") as served:
        await converse(fake, kari, None, "merket")

        def stored() -> list[tuple[object, ...]]:
            return query(served.database_url, "SELECT node, count FROM daily_stats ORDER BY node")

        # The reply reaches Telegram a moment before its update is counted (counts come once the
        # state is stored), so a flush may store /start alone first: wait for both, 10 s at most.
        for _ in range(100):
            if stored() == [("merket", 1), ("start", 1)]:
                break
            await asyncio.sleep(0.1)
        assert stored() == [("merket", 1), ("start", 1)], "stored by a periodic flush, while serving"
    assert stored() == [("merket", 1), ("start", 1)], "the final flush adds nothing twice"
