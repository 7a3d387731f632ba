"""Run `balansebot serve` as a real subprocess against the offline Bot API, as production would run."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.conftest import ROOT
from tests.databases import serve_database_url
from tests.support.fake_bot_api import FakeBotApi

WEBHOOK_SECRET = "test-secret_token-0123456789abcdef"
WEBHOOK_PATH = "/telegram/webhook"
PSEUDONYM_KEY = "end-to-end-tests-share-this-pseudonym-key"
START_WITHIN = 30.0
# The bot's own work measured, or tested, alone: no pacing to Telegram's limits (the offline Bot API
# is then made without them too: FakeBotApi(flood_limits=None)).
UNPACED = {
    "BOT_API_MESSAGES_PER_SECOND": "10000",
    "BOT_API_CHAT_BURST": "100",
    "BOT_API_CHAT_PER_SECOND": "1000",
}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    """A running bot process and where to find its traces."""

    process: asyncio.subprocess.Process
    port: int
    log: Path
    database: Path
    """The SQLite file, when the bot runs on SQLite."""
    database_url: str

    @property
    def url(self) -> str:
        """The bot's own HTTP server."""
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        """Everything the process logged so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")


def serve_env(fake: FakeBotApi, data: Path, port: int, *, webhook: bool, **extra: str) -> dict[str, str]:
    """The environment a deployment would set, pointing at the fake Bot API."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BOT_TOKEN": fake.token,
        "BOT_API_URL": fake.base_url,
        "DATABASE_URL": serve_database_url(data),
        # Beside the data, also on PostgreSQL (where the default is the current folder: the checkout).
        "KEPT_SCRIPTS_DIR": str(data / "kept-scripts"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "DEBUG",  # the privacy tests grep the most talkative logs
        "PTB_TIMEDELTA": "true",
        # Scripted users are faster than people: flood control on, but far off (test_flood sets its own).
        "FLOOD_BURST": "1000",
    }
    if webhook:
        env["WEBHOOK_URL"] = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
        env["WEBHOOK_SECRET"] = WEBHOOK_SECRET
    # Required by serve, kept apart from the data; the same for every bot a test starts.
    env["PSEUDONYM_KEY"] = PSEUDONYM_KEY
    env.update(extra)
    return env


@asynccontextmanager
async def serving(fake: FakeBotApi, data: Path, *, webhook: bool, **extra: str) -> AsyncIterator[Served]:
    """Start the bot, wait until /healthz says ready, and stop it with SIGTERM afterwards."""
    data.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - test setup, before any traffic
    port = free_port()
    log = data / f"serve-{port}.log"
    env = serve_env(fake, data, port, webhook=webhook, **extra)
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            cwd=ROOT,
            stdout=sink,
            stderr=sink,
            env=env,
        )
    served = Served(process, port, log, data / "balansebot.db", env["DATABASE_URL"])
    try:
        await _wait_ready(served)
        yield served
    finally:
        await stop(served)


async def stop(served: Served) -> int:
    """SIGTERM, as a container runtime stops it; SIGKILL if it does not stop in time."""
    if served.process.returncode is None:
        served.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(served.process.wait(), 15)
        except TimeoutError:
            served.process.kill()
            await served.process.wait()
    assert served.process.returncode is not None
    return served.process.returncode


async def _wait_ready(served: Served) -> None:
    deadline = asyncio.get_running_loop().time() + START_WITHIN
    async with aiohttp.ClientSession() as session:
        while asyncio.get_running_loop().time() < deadline:
            if served.process.returncode is not None:
                raise AssertionError(f"serve exited with {served.process.returncode}:\n{served.log_text()}")
            try:
                async with session.get(f"{served.url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"serve did not become ready:\n{served.log_text()}")
