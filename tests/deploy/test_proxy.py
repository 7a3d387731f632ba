"""deploy/Caddyfile, run by a real Caddy in front of the image's command (when Caddy is installed).

Compose's proxy takes the bot's host name from Docker's DNS and serves HTTPS for BOT_DOMAIN. Here
the same file runs with plain-HTTP loopback values for those variables (no DNS name for replicas,
no certificate); everything else — the webhook route, the 404 for other paths, passing the secret
header and the bot's answers through — is Caddy's own behaviour on the committed file.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import ROOT
from tests.deploy import compose
from tests.deploy.image import container, deployment, image_environment, stop, wait_healthy
from tests.support.fake_bot_api import FakeBotApi
from tests.telegram.serving import WEBHOOK_SECRET, free_port

pytestmark = [pytest.mark.slow, pytest.mark.own_database]
CADDYFILE = ROOT / "deploy" / "Caddyfile"


def caddy() -> str:
    """The caddy binary, or skip saying why."""
    found = shutil.which("caddy")
    if found is None:
        pytest.skip("Caddy is not installed (apt-get install caddy), so deploy/Caddyfile is not run here")
    return found


def proxy_environment(port: int, bot_port: int, folder: Path) -> dict[str, str]:
    """compose.yaml's proxy environment, with loopback stand-ins for the domain and the service."""
    env = compose.environment(compose.load()["services"]["proxy"], {"BOT_DOMAIN": "unused"})
    env |= {"BOT_DOMAIN": f"http://127.0.0.1:{port}", "BOT_SERVICE": "127.0.0.1", "BOT_PORT": str(bot_port)}
    return env | {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(folder),
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CONFIG_HOME": str(folder / "config"),
        "CADDY_ADMIN": f"127.0.0.1:{free_port()}",  # not the default 2019, which may be taken
    }


def test_caddyfile_validates(tmp_path: Path) -> None:
    """`caddy validate` accepts the file with compose's values (the real domain form included)."""
    env = proxy_environment(443, 8080, tmp_path) | {"BOT_DOMAIN": "bot.example.org", "BOT_SERVICE": "bot"}
    result = asyncio.run(
        _run([caddy(), "validate", "--adapter", "caddyfile", "--config", str(CADDYFILE)], env)
    )
    assert result[0] == 0, result[1]
    assert "Valid configuration" in result[1]


async def _run(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


@asynccontextmanager
async def running_caddy(env: dict[str, str], folder: Path) -> AsyncIterator[str]:
    """`caddy run` on the Caddyfile until the block ends; yields its base URL once it answers."""
    log = folder / "caddy.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            caddy(), "run", "--adapter", "caddyfile", "--config", str(CADDYFILE),
            env=env, stdout=sink, stderr=sink,
        )  # fmt: skip
    base = env["BOT_DOMAIN"]
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                if process.returncode is not None:
                    pytest.fail(f"caddy exited:\n{log.read_text(errors='replace')}")
                try:
                    async with session.get(base + "/"):
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                pytest.fail(f"caddy did not listen:\n{log.read_text(errors='replace')}")
        yield base
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 15)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API."""
    async with FakeBotApi() as server:
        yield server


async def test_webhook_reaches_the_bot_through_caddy_and_nothing_else_is_public(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    """Telegram's updates go through Caddy to the bot; /healthz and other paths answer 404 there."""
    proxy_port, bot_port = free_port(), free_port()
    proxy_env = proxy_environment(proxy_port, bot_port, tmp_path / "caddy")
    webhook_url = f"http://127.0.0.1:{proxy_port}{proxy_env['WEBHOOK_PATH']}"
    data = tmp_path / "data"
    data.mkdir()
    env = image_environment(data) | deployment(fake, bot_port, webhook_url)
    kari = fake.add_user("Kari", language_code="nb")
    async with running_caddy(proxy_env, tmp_path) as base, container(env, tmp_path / "bot") as started:
        await wait_healthy(started)
        assert fake.webhook is not None and fake.webhook.url == webhook_url

        fake.send_command(kari, "telefon")
        (answer,) = await fake.wait_for_bot_messages(kari, 1, within=15)
        assert "400 38 800" in (answer.text or "")

        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/healthz") as response:
                assert response.status == 404, "health stays inside the compose network"
            async with session.post(
                webhook_url, json={"update_id": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
            ) as response:
                assert response.status == 401, "the bot's secret check answers through the proxy"
            async with session.post(
                webhook_url, data=b"{", headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
            ) as response:
                assert response.status == 400
        code, _ = await stop(started)
        assert code == 0
