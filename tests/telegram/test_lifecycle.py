"""Stopping gracefully: SIGTERM finishes the update in flight, refuses new ones, exits within 10 s."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.support import updates as ub
from tests.support.fake_bot_api import FakeBotApi
from tests.telegram.serving import WEBHOOK_PATH, WEBHOOK_SECRET, serving

pytestmark = pytest.mark.slow
STOP_WITHIN = 10.0  # what a container runtime allows between SIGTERM and SIGKILL


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API."""
    async with FakeBotApi() as server:
        yield server


async def test_sigterm_finishes_the_update_in_flight_and_refuses_new_ones(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    kari, ola = fake.add_user("Kari"), fake.add_user("Ola")
    async with serving(fake, tmp_path, webhook=True) as served:
        fake.hang("sendMessage")
        fake.send_command(kari, "telefon")  # delivered by the fake's webhook; its answer will hang
        await fake.wait_until(lambda: fake.calls["sendMessage"] >= 1, what="the reply in flight")

        stopping_at = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        late = ub.command_update(
            999_999_001, message_id=1, date=int(time.time()), from_user=ola.to_dict(), command="start"
        )
        headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET, "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as session:
            try:
                async with session.post(
                    served.url + WEBHOOK_PATH, data=json.dumps(late), headers=headers
                ) as response:
                    late_status: int | None = response.status
            except aiohttp.ClientConnectionError:
                late_status = None  # no longer listening: just as good, Telegram redelivers
        assert late_status in (None, 503), "an update arriving while stopping is not taken"

        fake.release_hangs()  # Telegram answers at last (a 500): the bot retries and the reply arrives
        (reply,) = await fake.wait_for_bot_messages(kari, 1, within=STOP_WITHIN)
        assert "400 38 800" in (reply.text or "")
        code = await asyncio.wait_for(served.process.wait(), STOP_WITHIN)
        assert time.monotonic() - stopping_at < STOP_WITHIN
        assert code == 0
    assert fake.delivered_updates and not fake.dropped_webhook_updates, (
        "the update in flight was acknowledged"
    )
    assert not fake.bot_messages(ola), "the refused update was not answered by a stopping bot"
