"""What an operator sees when `serve` cannot start: one line naming the cause, never a secret."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.commands.serve import why_it_stopped
from bot.engine.engine import Engine
from bot.i18n import Catalogs
from bot.live_scripts import LiveScripts
from bot.settings import ServeSettings
from bot.telegram.webapp import serve
from tests.conftest import ROOT
from tests.support.fake_bot_api import FakeBotApi
from tests.telegram.serving import free_port, serve_env

REVOKED_TOKEN = "987654321:AAThisTokenWasRevokedLongAgo_xyz12345678"  # made up
DATABASE_PASSWORD = "pw0123456789secret"  # made up; must never be printed


async def test_a_rejected_token_is_one_line_without_the_token(tmp_path: Path) -> None:
    """As an operator runs it: the whole output ends in one line, with no traceback and no token.

    In Bokmål, as the command line speaks by default; the tests below call the code itself, which
    speaks the English msgids.
    """
    async with FakeBotApi() as fake:
        env = serve_env(fake, tmp_path, free_port(), webhook=False, BOT_TOKEN=REVOKED_TOKEN)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    output = stderr.decode()
    assert process.returncode == 2
    assert "Traceback" not in output and "Unclosed" not in output, output
    assert output.strip().splitlines()[-1] == (
        "balansebot: Telegram godtok ikke BOT_TOKEN; kopier tokenet på nytt fra @BotFather "
        "(/mybots → API Token) inn i BOT_TOKEN"
    )
    assert REVOKED_TOKEN.split(":")[1] not in output


async def failure(settings: ServeSettings, engine: Engine, catalogs: Catalogs) -> tuple[int, str]:
    """Start the bot as `serve` does; what it tells the operator when the start fails."""
    scripts = LiveScripts(engine, ROOT / "dialogues", catalogs)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - whatever it is, it must be described
        await serve(settings, scripts, catalogs, shutdown_seconds=1)
    told = why_it_stopped(raised.value, settings)
    assert told is not None, f"no one-line description of {raised.value!r}"
    return told


def settings_for(fake: FakeBotApi, tmp_path: Path, **changed: str) -> ServeSettings:
    given: dict[str, object] = {
        "bot_token": SecretStr(fake.token),
        "bot_api_url": fake.base_url,
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "pseudonym_key": SecretStr("k" * 40),
        "watch_dialogues": False,
        "host": "127.0.0.1",
        "port": free_port(),
    }
    return ServeSettings(**{**given, **changed})


async def test_an_unreachable_bot_api_is_one_line(tmp_path: Path, engine: Engine, catalogs: Catalogs) -> None:
    async with FakeBotApi() as fake:
        nobody = free_port()
        settings = settings_for(fake, tmp_path, bot_api_url=f"http://127.0.0.1:{nobody}/bot")
        code, line = await failure(settings, engine, catalogs)
    assert code == 1
    assert line.startswith(f"the Bot API at 127.0.0.1:{nobody} cannot be reached (aiohttp."), line
    assert line.endswith("check the network, BOT_API_URL and HTTPS_PROXY")
    assert "\n" not in line and fake.token not in line


async def test_a_database_that_is_down_is_one_line_without_the_password(
    tmp_path: Path, engine: Engine, catalogs: Catalogs
) -> None:
    async with FakeBotApi() as fake:
        down = f"postgresql://balansebot:{DATABASE_PASSWORD}@127.0.0.1:{free_port()}/balansebot"
        code, line = await failure(settings_for(fake, tmp_path, database_url=down), engine, catalogs)
    assert code == 1
    assert line.startswith("the database cannot be used (connection failed: "), line
    assert "Connection refused" in line and "check that it is running" in line
    assert "\n" not in line and DATABASE_PASSWORD not in line
