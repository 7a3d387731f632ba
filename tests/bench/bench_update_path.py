"""One text message on the webhook, followed from the door to the reply: the bot's modules it runs in.

    uv run python -m tests.bench.bench_update_path

The bot runs whole (`running_bot`, the aiohttp app, the webhook registered) against the offline Bot
API; after a /start has loaded every lazy part, a profile hook notes each function called in a
`bot.*` module while one question is answered. Background work (expiry, statistics) is made to sleep
meanwhile, so what is listed is the update's own path, grouped by layer.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from aiohttp import web
from pydantic import AnyHttpUrl, SecretStr

from bot.content.loader import load_scripts
from bot.engine.engine import Engine
from bot.i18n import Catalogs
from bot.live_scripts import LiveScripts
from bot.settings import ServeSettings
from bot.telegram.metrics import BotMetrics
from bot.telegram.runtime import running_bot, taking_updates
from bot.telegram.webapp import create_app
from tests.conftest import DIALOGUES, LOCALES
from tests.support.fake_bot_api import FakeBotApi
from tests.telegram.serving import WEBHOOK_PATH, WEBHOOK_SECRET, free_port

QUESTION = "når er rådgivningstelefonen åpen?"
SETTLE_SECONDS = 1.0  # the first expiry pass runs at start; it is over by then


@contextmanager
def functions_called(into: set[tuple[str, str]]) -> Iterator[None]:
    """Every (module, function) of the bot called while the block runs."""

    def note(frame: FrameType, event: str, _: Any) -> None:
        if event == "call":
            module = frame.f_globals.get("__name__", "")
            if module.startswith("bot."):
                into.add((module, frame.f_code.co_name))

    sys.setprofile(note)
    try:
        yield
    finally:
        sys.setprofile(None)


async def follow_one_update(data: Path) -> set[tuple[str, str]]:
    """The bot's functions one text message runs through, from the webhook to the Bot API."""
    catalogs = Catalogs.load(LOCALES)
    scripts = load_scripts(DIALOGUES, catalogs).scripts
    if scripts is None:
        raise SystemExit("the shipped scripts do not load: run `balansebot check`")
    engine = Engine(scripts, catalogs)
    async with FakeBotApi() as fake:
        port = free_port()
        settings = ServeSettings(
            bot_token=SecretStr(fake.token),
            bot_api_url=fake.base_url,
            database_url=f"sqlite:///{data / 'bot.db'}",
            pseudonym_key=SecretStr("k" * 40),
            webhook_url=AnyHttpUrl(f"http://127.0.0.1:{port}{WEBHOOK_PATH}"),
            webhook_secret=SecretStr(WEBHOOK_SECRET),
            watch_dialogues=False,
            expiry_interval_seconds=3600,
            auto_delete_interval_seconds=3600,
            stats_flush_seconds=3600,
        )
        live = LiveScripts(engine, DIALOGUES, catalogs)
        kari = fake.add_user("Kari", language_code="nb")
        async with running_bot(settings, live, catalogs, BotMetrics(process_metrics=False)) as runtime:
            server = web.AppRunner(create_app(runtime, settings))
            await server.setup()
            await web.TCPSite(server, "127.0.0.1", port).start()
            try:
                async with taking_updates(runtime, settings):
                    fake.send_command(kari, "start")
                    await fake.wait_for_bot_messages(kari, 1)
                    await asyncio.sleep(SETTLE_SECONDS)
                    called: set[tuple[str, str]] = set()
                    with functions_called(called):
                        fake.send_text(kari, QUESTION)
                        replies = await fake.wait_for_bot_messages(kari, 2)
            finally:
                await server.cleanup()
    if "400 38 800" not in (replies[-1].text or ""):
        raise SystemExit("the question was not answered as expected")
    return called


def main() -> None:
    """Print the modules by layer, with the functions called in each."""
    with tempfile.TemporaryDirectory() as data:
        called = asyncio.run(follow_one_update(Path(data)))
    by_module: dict[str, list[str]] = defaultdict(list)
    for module, function in sorted(called):
        by_module[module].append(function)
    by_layer: dict[str, list[str]] = defaultdict(list)
    for module in by_module:
        by_layer[module.split(".")[1]].append(module)
    for layer, modules in sorted(by_layer.items()):
        print(f"{layer} ({len(modules)})")
        for module in modules:
            print(f"  {module}: {', '.join(by_module[module])}")
    print(f"{len(by_module)} modules in all")


if __name__ == "__main__":
    main()
