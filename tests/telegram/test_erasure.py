"""What the bot says it deleted is gone from the files: SQLite's and its WAL, PostgreSQL's pages."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.engine import callbacks
from bot.storage.pseudonym import Pseudonymizer
from tests.databases import raw_database_bytes
from tests.support.fake_bot_api import FakeBotApi
from tests.telegram.serving import free_port, serving
from tests.telegram.test_leads import fill_in_form, smtp_env

pytestmark = pytest.mark.slow
KEY = "erasure-tests-pseudonym-key-0123456789"
ANSWERS = ("Kulturhuset Ålesund", "rundt 25", "Kari Ærlig", "kari@kulturhuset.no")


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API."""
    async with FakeBotApi() as server:
        yield server


def found(database_url: str, secrets: tuple[str, ...]) -> list[str]:
    """Which of `secrets` a scan of the raw database finds, as UTF-8 or as JSON writes them (\\u00c5)."""
    content = raw_database_bytes(database_url)
    return [
        secret
        for secret in secrets
        if secret.encode() in content or json.dumps(secret)[1:-1].encode() in content
    ]


async def test_a_cancelled_form_and_a_deleted_chat_leave_no_trace_on_disk_even_after_kill_9(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    ola = fake.add_user("Ola")
    kari = fake.add_user("Kari")
    pseudonym = Pseudonymizer(KEY.encode()).chat_key(kari.id)
    env = {**smtp_env(free_port()), "PSEUDONYM_KEY": KEY}
    async with serving(fake, tmp_path, webhook=True, **env) as served:
        url = served.database_url
        await fill_in_form(fake, ola, send=None)
        fake.send_command(kari, "start")
        await fake.wait_for_bot_messages(kari, 1)
        fake.send_text(kari, "hva er balansemerket")
        await fake.wait_for_bot_messages(kari, 2)
        # The scan finds what is there: the open form's answers and Kari's pseudonym.
        assert found(url, (*ANSWERS, pseudonym)) == [*ANSWERS, pseudonym]

        fake.press_button(ola, fake.bot_messages(ola)[-1], callbacks.form("cancel"))
        fake.send_command(kari, "slett")
        await fake.wait_until(
            lambda: "Ingenting ble lagret" in (fake.bot_messages(ola)[-1].text or ""), what="cancelled"
        )
        await fake.wait_until(
            lambda: any("slettet" in (m.text or "") for m in fake.bot_messages(kari)), what="deleted"
        )
        # The confirmation of a cancelled form goes out before its chat is stored (and erased):
        # scanned once Telegram has the webhook's answer to each update.
        await fake.drain()
        assert found(url, (*ANSWERS, pseudonym)) == [], "while the bot runs"

        served.process.kill()  # no clean shutdown, no last checkpoint
        await served.process.wait()
        assert found(url, (*ANSWERS, pseudonym)) == [], "after kill -9"
    if url.startswith("sqlite"):
        assert owner_only(tmp_path)


def owner_only(folder: Path) -> bool:
    """The folder is 0700 and the SQLite files in it 0600."""
    files = list(folder.glob("balansebot.db*"))
    modes = {stat.S_IMODE(file.stat().st_mode) for file in files}
    return bool(files) and modes == {0o600} and stat.S_IMODE(folder.stat().st_mode) == 0o700
