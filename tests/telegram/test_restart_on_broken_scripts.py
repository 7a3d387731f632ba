"""A restart on a broken dialogues folder: the bot comes back on the last good version and says so.

Not marked slow: the kept versions are files, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.fake_bot_api import FakeBotApi
from tests.telegram.serving import Served, serving
from tests.telegram.test_live_reload import edit, health, wait_for_health


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API."""
    async with FakeBotApi() as server:
        yield server


async def test_a_restart_on_a_broken_file_serves_the_last_good_version(
    fake: FakeBotApi, tmp_path: Path, dialogues_copy: Path
) -> None:
    dialogues = dialogues_copy
    kari = fake.add_user("Kari")
    script = dialogues / "nb" / "om.yaml"
    run = tmp_path / "run"
    kept = {"DIALOGUES_DIR": str(dialogues), "KEPT_SCRIPTS_DIR": str(tmp_path / "kept")}
    edit(script, "en forening av", "kort sagt en forening av")
    async with serving(fake, run, webhook=False, **kept) as served:
        good = (await health(served))["scripts"]["version"]
    # One bad save, then a reboot: the bot comes back on the version that last went live.
    edit(script, "kort sagt en forening", "kort sagt<br> en forening")
    async with serving(fake, run, webhook=False, **kept) as served:
        scripts = (await health(served))["scripts"]
        assert scripts["version"] == good
        assert scripts["refused_where"] == ["dialogues/nb/om.yaml:9"]
        assert "dialogues/nb/om.yaml:9: feil:" in served.log_text()  # the staff tools speak Bokmål
        assert f"serving the last good version {good}" in served.log_text()
        assert "balansebot_scripts_refused 1.0" in await metrics(served)
        fake.send_text(kari, "hva er balansekunst for noe")
        messages = await fake.wait_for_bot_messages(kari, 1)
        assert "kort sagt" in (messages[-1].text or ""), "the last good version answers"

        edit(script, "kort sagt<br> en forening", "med andre ord en forening")
        fixed = await wait_for_health(served, f"version!={good}")
        assert "refused_at" not in fixed
        assert "balansebot_scripts_refused 0.0" in await metrics(served)
        fake.send_text(kari, "hva er balansekunst for noe")
        messages = await fake.wait_for_bot_messages(kari, 2)
        assert "med andre ord" in (messages[-1].text or "")


async def metrics(served: Served) -> str:
    """The Prometheus text of /metrics (open to this machine without a token)."""
    async with aiohttp.ClientSession() as session, session.get(f"{served.url}/metrics") as response:
        return await response.text()
