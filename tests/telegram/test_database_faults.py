"""The database goes away, and a process dies mid-update: nothing the reader wrote is lost or doubled.

SQLite is made unavailable for real by another connection holding its write lock (`BEGIN
EXCLUSIVE`); PostgreSQL by refusing connections to the bot's database and ending the bot's own.
While the database is away `/healthz` says 503, a webhook delivery is answered 503 so Telegram
delivers it again, and a polled update waits in the process; when it is back, each update is
answered once and its state stored.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiohttp
import psycopg
import pytest

from tests.databases import fresh_postgres, postgres_admin_url, query
from tests.support.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.serving import Served, serving

pytestmark = [pytest.mark.slow, pytest.mark.own_database]
PHONE = "400 38 800"
# Telegram keeps redelivering for hours; here long enough to outlast the outage and a restart.
PATIENT_REDELIVERY = (0.5, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5)
OUTAGE_SECONDS = 3.0
PG_KEY = "database-faults-pseudonym-key-0123456789"


@asynccontextmanager
async def patient_fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API, redelivering webhook updates for long enough."""
    # Telegram waits longer for a webhook's answer than SQLite's 5 s busy timeout (the fake: 5 s).
    async with FakeBotApi(webhook_retry_delays=PATIENT_REDELIVERY, webhook_timeout=15) as server:
        yield server


async def health(served: Served) -> int:
    """The status of GET /healthz."""
    async with aiohttp.ClientSession() as session, session.get(served.url + "/healthz") as response:
        return response.status


@contextmanager
def sqlite_locked(path: Path) -> Iterator[None]:
    """Another process's connection holds SQLite's write lock until the block ends."""
    holder = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


@contextmanager
def postgres_refusing(url: str) -> Iterator[None]:
    """The bot's PostgreSQL database takes no connections, and the bot's open ones are ended."""
    admin = postgres_admin_url()
    assert admin is not None
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    try:
        yield
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@contextmanager
def database_down(kind: str, served: Served) -> Iterator[None]:
    """The bot's database unavailable for real, of either kind."""
    if kind == "sqlite":
        with sqlite_locked(served.database):
            yield
    else:
        with postgres_refusing(served.database_url):
            yield


@contextmanager
def database_for(kind: str, data: Path) -> Iterator[dict[str, str]]:
    """Extra environment for `serving`: an SQLite file in `data`, or a fresh PostgreSQL database."""
    if kind == "sqlite":  # named even when TEST_SERVE_DATABASE=postgresql: these tests lock the file
        yield {"DATABASE_URL": f"sqlite:///{data / 'balansebot.db'}"}
    else:
        with fresh_postgres() as url:
            yield {"DATABASE_URL": url, "PSEUDONYM_KEY": PG_KEY}


def stored_nodes(served: Served) -> list[str]:
    """The node of every stored chat."""
    return [node for (node,) in query(served.database_url, "SELECT node FROM chat")]


def answered_503(fake: FakeBotApi) -> bool:
    """Whether the webhook's last failed delivery got a 503."""
    return fake.webhook is not None and "503" in (fake.webhook.last_error_message or "")


async def poll(condition: Callable[[], bool], what: str, within: float = 20) -> None:
    """Wait until `condition()` holds (for what the fake does not announce, such as a failed delivery)."""
    for _ in range(int(within * 10)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {within}s: {what}")


def sends(fake: FakeBotApi, user: FakeUser) -> int:
    """How many messages the bot sent to a chat, delivered ones only."""
    return len([op for op in fake.ops_for("sendMessage") if op.chat_id == user.id and op.ok])


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
@pytest.mark.parametrize("webhook", [True, False], ids=["webhook", "polling"])
async def test_database_away_for_a_while_then_back_loses_and_doubles_nothing(
    tmp_path: Path, kind: str, webhook: bool
) -> None:
    async with patient_fake() as fake:
        kari, ola = fake.add_user("Kari"), fake.add_user("Ola")
        with database_for(kind, tmp_path) as env:
            async with serving(fake, tmp_path, webhook=webhook, **env) as served:
                fake.send_command(kari, "start")
                await fake.wait_for_bot_messages(kari, 1)
                with database_down(kind, served):
                    assert await health(served) == 503
                    if not webhook:  # long polling pauses: new updates wait at Telegram
                        await poll(lambda: "long polling paused" in served.log_text(), "polling paused")
                    fake.send_command(kari, "telefon")
                    fake.send_command(ola, "merket")
                    if webhook:  # the bot tells Telegram to deliver them again
                        await poll(lambda: answered_503(fake), "a webhook delivery answered 503")
                    await asyncio.sleep(OUTAGE_SECONDS)
                    if not webhook:
                        assert len(fake.pending_updates) == 2, "not fetched while the database is away"
                kari_messages = await fake.wait_for_bot_messages(kari, 2, within=40)
                (ola_message,) = await fake.wait_for_bot_messages(ola, 1, within=40)
                await fake.drain(within=40)
                await asyncio.sleep(1.0)  # a late duplicate would show up now
                assert await health(served) == 200
                assert PHONE in (kari_messages[-1].text or "")
                assert "Balansemerket" in (ola_message.text or "")
                assert (sends(fake, kari), sends(fake, ola)) == (2, 1), "each update answered once"
                assert not fake.dropped_webhook_updates
                assert sorted(stored_nodes(served)) == ["merket", "telefon"], "both states were stored"
                log = served.log_text()
                for (key,) in query(served.database_url, "SELECT key FROM chat"):
                    assert key not in log, "a failed statement's parameters are not logged"

                fake.send_command(kari, "hjelp")  # and the conversation goes on
                messages = await fake.wait_for_bot_messages(kari, 3)
                assert "/slett" in (messages[-1].text or "")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_process_killed_mid_update_answers_the_redelivery_once(tmp_path: Path, kind: str) -> None:
    async with patient_fake() as fake:
        kari = fake.add_user("Kari")
        with database_for(kind, tmp_path) as env:
            async with serving(fake, tmp_path, webhook=True, **env) as served:
                fake.send_command(kari, "start")
                await fake.wait_for_bot_messages(kari, 1)
                fake.hang("sendMessage")
                update = fake.send_command(kari, "telefon")
                await fake.wait_until(lambda: fake.calls["sendMessage"] == 2, what="the reply in flight")
                served.process.kill()
                await served.process.wait()
            fake.release_hangs()
            assert fake.pending_updates == [update], "not acknowledged: Telegram will deliver it again"
            async with serving(fake, tmp_path, webhook=True, **env) as restarted:
                messages = await fake.wait_for_bot_messages(kari, 2, within=30)
                await fake.drain(within=30)
                await asyncio.sleep(1.0)
                assert PHONE in (messages[-1].text or "")
                assert len(fake.bot_messages(kari)) == 2, "the redelivered update was answered once"
                assert stored_nodes(restarted) == ["telefon"]
            assert not fake.dropped_webhook_updates
