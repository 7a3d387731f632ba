"""The running bot is built whole or not at all: a part that fails to start closes those before it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr
from telegram.error import InvalidToken

from bot.engine.engine import Engine
from bot.i18n import Catalogs
from bot.live_scripts import LiveScripts
from bot.settings import ServeSettings
from bot.telegram.metrics import BotMetrics
from bot.telegram.runtime import running_bot, taking_updates
from tests.conftest import ROOT
from tests.support.fake_bot_api import FakeBotApi


def settings_for(fake: FakeBotApi, tmp_path: Path, token: str) -> ServeSettings:
    return ServeSettings(
        bot_token=SecretStr(token),
        bot_api_url=fake.base_url,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        pseudonym_key=SecretStr("k" * 40),  # serve requires a key apart from the data
        watch_dialogues=False,
    )


async def test_a_failed_start_leaves_nothing_running(
    tmp_path: Path, engine: Engine, catalogs: Catalogs
) -> None:
    async with FakeBotApi() as fake:
        settings = settings_for(fake, tmp_path, "123456789:" + "W" * 35)
        scripts = LiveScripts(engine, ROOT / "dialogues", catalogs)
        before = asyncio.all_tasks()
        with pytest.raises(InvalidToken):
            async with running_bot(settings, scripts, catalogs, BotMetrics(process_metrics=False)):
                pytest.fail("started with a token Telegram refuses")
        assert asyncio.all_tasks() == before, "no background work left behind"
        assert fake.ops == [], "nothing was sent with a token Telegram refused"


async def test_a_whole_run_answers_and_then_stops_every_part(
    tmp_path: Path, engine: Engine, catalogs: Catalogs
) -> None:
    async with FakeBotApi() as fake:
        settings = settings_for(fake, tmp_path, fake.token)
        scripts = LiveScripts(engine, ROOT / "dialogues", catalogs)
        kari = fake.add_user("Kari", language_code="nb")
        before = asyncio.all_tasks()
        async with running_bot(settings, scripts, catalogs, BotMetrics(process_metrics=False)) as runtime:
            assert not await runtime.healthy(), "not healthy before it takes updates"
            async with taking_updates(runtime, settings):
                assert await runtime.healthy()
                fake.send_command(kari, "telefon")
                [reply] = await fake.wait_for_bot_messages(kari, 1)
                assert "400 38 800" in (reply.text or "")
            assert not runtime.gate.open, "no longer taking updates"
            assert not fake.long_poll_waiting
        assert asyncio.all_tasks() == before, "every part stopped"
