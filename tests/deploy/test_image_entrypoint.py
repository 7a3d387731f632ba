"""The image's command and configuration, run as the Dockerfile writes them, outside Docker.

No Docker engine runs here, so the image is never built. Instead the final stage's ENTRYPOINT + CMD,
ENV, HEALTHCHECK and STOPSIGNAL are read from the Dockerfile (tests/deploy/image.py) and run against
the offline Bot API, and compose.yaml's replicas are run the same way on one PostgreSQL.
"""

from __future__ import annotations

import asyncio
import secrets
import stat
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import psycopg
import pytest
from aiohttp import web

from tests.databases import fresh_postgres
from tests.deploy import compose
from tests.deploy.image import (
    DOCKER_STOP_TIMEOUT,
    Container,
    container,
    deployment,
    image_environment,
    run_healthcheck,
    stop,
    wait_healthy,
)
from tests.support.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.serving import WEBHOOK_PATH, WEBHOOK_SECRET, free_port

pytestmark = [pytest.mark.slow, pytest.mark.own_database]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API."""
    async with FakeBotApi() as server:
        yield server


async def test_image_command_serves_is_healthy_and_stops_on_sigterm(fake: FakeBotApi, tmp_path: Path) -> None:
    """ENTRYPOINT+CMD with the image's ENV: healthy, answers, keeps data in /data, stops cleanly."""
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    env = image_environment(data) | deployment(fake, port, f"http://127.0.0.1:{port}{WEBHOOK_PATH}")
    kari = fake.add_user("Kari", language_code="nb")
    async with container(env, tmp_path) as started:
        await wait_healthy(started)
        assert await run_healthcheck(started) == 0

        fake.send_command(kari, "start")
        (greeting,) = await fake.wait_for_bot_messages(kari, 1)
        assert "anonym" in (greeting.text or "")

        # The image's DATABASE_URL and DIALOGUES_DIR were the ones used: SQLite in /data, owner-only;
        # the key only where the operator mounted it (/run/secrets), never in the data volume.
        assert stat.S_IMODE((data / "balansebot.db").stat().st_mode) == 0o600
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert not list(data.glob("*key*"))
        assert not any(started.workdir.iterdir()), "nothing is written to the working directory"

        code, took = await stop(started)
        assert code == 0, started.log_text()
        assert took < DOCKER_STOP_TIMEOUT
        assert "stopping: finishing updates in flight" in started.log_text()
        assert await run_healthcheck(started) == 1, "nothing listens any more"


async def test_image_refuses_to_start_without_its_key_and_says_where_it_goes(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    """No key mounted at /run/secrets/pseudonym_key: one line that says why, and none is made up."""
    data = tmp_path / "data"
    data.mkdir()
    env = image_environment(data) | deployment(fake, free_port(), "http://127.0.0.1:1/hook")
    key_file = Path(env["PSEUDONYM_KEY_FILE"])
    await asyncio.to_thread(key_file.unlink)
    async with container(env, tmp_path) as started:
        code = await asyncio.wait_for(started.process.wait(), 30)
    assert code == 2
    (line,) = started.log_text().strip().splitlines()
    assert line.startswith("balansebot: PSEUDONYM_KEY_FILE ") and "finnes ikke" in line, line
    assert not await asyncio.to_thread(key_file.exists)


async def test_image_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    """The same command with no BOT_TOKEN exits at once with a one-line reason (a restart loop shows it)."""
    data = tmp_path / "data"
    data.mkdir()
    async with container(image_environment(data), tmp_path) as started:
        code = await asyncio.wait_for(started.process.wait(), 30)
    assert code == 2
    assert started.log_text().strip() == "balansebot: BOT_TOKEN er ikke satt (tokenet fra @BotFather)"


class RoundRobin:
    """Caddy's part in compose.yaml: the webhook path, forwarded to each replica in turn."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.backends: list[str] = []
        self.forwarded: list[int] = []  # which backend took each update
        self._next = 0
        self._session: aiohttp.ClientSession | None = None

    async def forward(self, request: web.Request) -> web.Response:
        """Pass the update on unchanged, secret header included, and the answer back."""
        assert self._session is not None
        index = self._next % len(self.backends)
        self._next += 1
        self.forwarded.append(index)
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")
        }
        async with self._session.post(
            self.backends[index] + self.path, data=await request.read(), headers=headers
        ) as answer:
            return web.Response(
                status=answer.status, body=await answer.read(), content_type=answer.content_type
            )

    @asynccontextmanager
    async def running(self, port: int) -> AsyncIterator[None]:
        """Listen on loopback until the block ends."""
        app = web.Application()
        app.router.add_post(self.path, self.forward)
        runner = web.AppRunner(app)
        await runner.setup()
        async with aiohttp.ClientSession() as self._session:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            try:
                yield
            finally:
                await runner.cleanup()


@pytest.mark.parametrize("shared_key", [True, False], ids=["shared key", "a key per replica"])
async def test_compose_replicas_share_postgres_and_the_pseudonym_key(
    fake: FakeBotApi, tmp_path: Path, shared_key: bool
) -> None:
    """compose.yaml's bot replicas, started together on one fresh PostgreSQL behind a round robin.

    Every replica migrates at once (the advisory lock queues them) and takes updates of the same
    chat. With compose's shared PSEUDONYM_KEY the chat is one row; with a key per replica (what a
    generated key file would give) each replica keeps its own row and the conversation falls apart.
    """
    bot = compose.load()["services"]["bot"]
    # Two replicas already show the split; three (compose's count) are run with the shared key.
    replicas = int(bot["deploy"]["replicas"]) if shared_key else 2
    variables = {
        "PSEUDONYM_KEY": secrets.token_hex(32),
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "BOT_DOMAIN": "bot.example.org",
        "POSTGRES_PASSWORD": "unused-here",
    }
    composed = compose.environment(bot, variables)
    path = urlsplit(composed["WEBHOOK_URL"]).path
    proxy, proxy_port = RoundRobin(path), free_port()
    kari = fake.add_user("Kari", language_code="nb")
    with fresh_postgres() as database_url:
        async with proxy.running(proxy_port), AsyncExitStack() as stack:
            started: list[Container] = []
            for number in range(replicas):
                data = tmp_path / f"replica{number}" / "data"
                data.mkdir(parents=True)
                port = free_port()
                env = image_environment(data) | composed
                # What differs outside Docker: the database host, loopback addresses, one port each.
                env |= deployment(fake, port, f"http://127.0.0.1:{proxy_port}{path}")
                env["DATABASE_URL"] = database_url
                if not shared_key:
                    env["PSEUDONYM_KEY"] = secrets.token_hex(32)
                proxy.backends.append(f"http://127.0.0.1:{port}")
                started.append(await stack.enter_async_context(container(env, data.parent)))
            await asyncio.gather(*(wait_healthy(replica) for replica in started))

            await converse(fake, kari, rounds=2)
            assert len(proxy.forwarded) == len(CONVERSATION) * 2, "each update went through once"
            assert set(proxy.forwarded) == set(range(replicas)), "every replica took updates"

            with psycopg.connect(database_url) as db:
                (chats,) = db.execute("SELECT count(*) FROM chat").fetchone() or (0,)
            assert chats == (1 if shared_key else replicas)

            # One at a time, as a rolling update would: three interpreters tearing down at once on
            # this 2-core machine take 5-6 s each, which says more about the machine than the bot.
            stops = [await stop(replica) for replica in started]
            assert [code for code, _ in stops] == [0] * replicas
    key_files = await asyncio.to_thread(lambda: list(tmp_path.rglob("*/data/*key*")))
    assert key_files == [], "the key is never written to the data volume"


CONVERSATION = (("start", "anonym"), ("telefon", "400 38 800"), ("merket", "Balansemerket"))


async def converse(fake: FakeBotApi, kari: FakeUser, rounds: int) -> None:
    """The same few commands, `rounds` times, in one chat; each answered as it should be."""
    for number, (command, expected) in enumerate(CONVERSATION * rounds):
        fake.send_command(kari, command)
        messages = await fake.wait_for_bot_messages(kari, number + 1, within=15)
        assert expected in (messages[-1].text or ""), command
