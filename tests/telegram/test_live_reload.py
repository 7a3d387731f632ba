"""Live reload under a running `balansebot serve`: saved scripts are served, broken ones refused."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.engine import callbacks
from tests.conftest import ROOT
from tests.support.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.serving import Served, serving

pytestmark = pytest.mark.slow
RELOAD_WITHIN = 5.0  # the promise to staff: a saved file is live within 5 s
OLD_TITLE = "Om Balansekunst"
NEW_TITLE = "Om oss i Balansekunst"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API."""
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
def dialogues(tmp_path: Path) -> Path:
    """An editable copy of the shipped scripts, served by the bot under test."""
    target = tmp_path / "dialogues"
    shutil.copytree(ROOT / "dialogues", target)
    return target


async def health(served: Served) -> dict[str, Any]:
    """The /healthz body."""
    async with aiohttp.ClientSession() as session, session.get(f"{served.url}/healthz") as response:
        body: dict[str, Any] = await response.json()
        return body


async def wait_for_health(served: Served, check: str, within: float = RELOAD_WITHIN) -> dict[str, Any]:
    """Poll /healthz until `check` holds of its scripts block; fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        scripts = (await health(served))["scripts"]
        if check == "refused" and "refused_at" in scripts:
            return dict(scripts)
        if check.startswith("version!=") and scripts["version"] != check.removeprefix("version!="):
            return dict(scripts)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"/healthz did not show {check} within {within} s: {scripts}")
        await asyncio.sleep(0.1)


async def ask(fake: FakeBotApi, user: FakeUser, command: str) -> str:
    """Send /command and return the text of the bot's answer."""
    before = len(fake.bot_messages(user, include_deleted=True))
    fake.send_command(user, command)
    messages = await fake.wait_for_bot_messages(user, before + 1)
    return messages[-1].text or ""


def edit(path: Path, old: str, new: str) -> None:
    """Change a script the way staff would: open, replace, save."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


async def test_saved_script_is_served_and_broken_one_refused(
    fake: FakeBotApi, tmp_path: Path, dialogues: Path
) -> None:
    kari = fake.add_user("Kari")
    script = dialogues / "nb" / "om.yaml"
    async with serving(fake, tmp_path / "run", webhook=False, DIALOGUES_DIR=str(dialogues)) as served:
        first = (await health(served))["scripts"]
        assert len(first["version"]) == 12
        assert first["loaded_at"]
        assert "<b>Balansekunst</b>" not in await ask(fake, kari, "start")

        edit(script, f"title: {OLD_TITLE}", f"title: {NEW_TITLE}")
        edit(script, "en forening av", "kort sagt en forening av")
        reloaded = await wait_for_health(served, f"version!={first['version']}")
        assert reloaded["loaded_at"] > first["loaded_at"]
        fake.send_text(kari, "hva er balansekunst for noe")
        messages = await fake.wait_for_bot_messages(kari, 2)
        assert "kort sagt" in (messages[-1].text or ""), "the saved text is what users get now"

        # A broken save: the old version keeps serving and the reason is logged as file:line.
        edit(script, "kort sagt en forening", "kort sagt<br> en forening")
        refused = await wait_for_health(served, "refused")
        assert refused["version"] == reloaded["version"]
        assert refused["refused_errors"] >= 1
        fake.send_text(kari, "hva er balansekunst for noe")
        messages = await fake.wait_for_bot_messages(kari, 3)
        assert "kort sagt" in (messages[-1].text or ""), "the last good version still serves"
        assert "dialogues/nb/om.yaml:9: feil:" in served.log_text()  # the staff tools speak Bokmål
        assert "refused" in served.log_text()

        # Fixed again: the refusal is cleared and the fix is served.
        edit(script, "kort sagt<br> en forening", "med andre ord en forening")
        fixed = await wait_for_health(served, f"version!={reloaded['version']}")
        assert "refused_at" not in fixed


async def test_a_node_that_disappeared_sends_the_reader_to_the_menu(
    fake: FakeBotApi, tmp_path: Path, dialogues: Path
) -> None:
    kari = fake.add_user("Kari")
    async with serving(fake, tmp_path / "run", webhook=False, DIALOGUES_DIR=str(dialogues)) as served:
        fake.send_command(kari, "start")
        (greeting,) = await fake.wait_for_bot_messages(kari, 1)
        version = (await health(served))["scripts"]["version"]
        # Staff delete the topic the reader is about to open (and the buttons that led there).
        (dialogues / "nb" / "om.yaml").unlink()
        for lang in ("nn", "en"):
            (dialogues / lang / "om.yaml").unlink(missing_ok=True)
        for path in sorted(dialogues.glob("*/start.yaml")):  # noqa: ASYNC240 - a staff edit, not traffic
            lines = path.read_text(encoding="utf-8").splitlines()
            # Each button is two lines, "- text: …" then "goto: om"; drop both.
            doomed = {i for i, line in enumerate(lines) if line.strip() == "goto: om"}
            kept = [line for i, line in enumerate(lines) if i not in doomed and i + 1 not in doomed]
            path.write_text("\n".join(kept) + "\n", encoding="utf-8")
        scripts = await wait_for_health(served, f"version!={version}", within=10)
        assert "refused_at" not in scripts, served.log_text()
        # An old button to the deleted node is pressed: a kind word and the menu, not an error.
        fake.press_button(kari, greeting, callbacks.goto("om"))
        await fake.wait_for_call("answerCallbackQuery")
        await asyncio.sleep(0.3)
        answer = fake.bot_messages(kari, include_deleted=True)[-1]
        assert callbacks.goto("telefon") in answer.callback_datas, "the reader is back at the menu"
        assert "Traceback" not in served.log_text()


@pytest.mark.skipif(os.name != "posix", reason="SIGHUP is POSIX")
async def test_sighup_reloads_without_a_watcher(fake: FakeBotApi, tmp_path: Path, dialogues: Path) -> None:
    kari = fake.add_user("Kari")
    async with serving(
        fake, tmp_path / "run", webhook=False, DIALOGUES_DIR=str(dialogues), WATCH_DIALOGUES="false"
    ) as served:
        version = (await health(served))["scripts"]["version"]
        edit(dialogues / "nb" / "om.yaml", "en forening av", "etter SIGHUP en forening av")
        await asyncio.sleep(1.0)
        assert (await health(served))["scripts"]["version"] == version, "no watcher: nothing changes"
        served.process.send_signal(signal.SIGHUP)
        await wait_for_health(served, f"version!={version}")
        fake.send_text(kari, "hva er balansekunst for noe")
        messages = await fake.wait_for_bot_messages(kari, 1)
        assert "etter SIGHUP" in (messages[-1].text or "")
