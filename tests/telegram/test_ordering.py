"""Updates run concurrently across chats but strictly in order within one chat."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from bot.telegram.answering import ChatOrder
from tests.support.fake_bot_api import FakeBotApi
from tests.telegram.serving import serving


async def test_one_chat_in_order_chats_side_by_side() -> None:
    order = ChatOrder()
    finished: dict[int, list[int]] = {1: [], 2: [], 3: []}
    running = 0
    most_at_once = 0
    rng = random.Random(7)

    async def work(chat_id: int, update_id: int) -> None:
        nonlocal running, most_at_once
        async with order.turn(chat_id):
            running += 1
            most_at_once = max(most_at_once, running)
            await asyncio.sleep(rng.uniform(0, 0.01))  # later updates may be faster: order must still hold
            finished[chat_id].append(update_id)
            running -= 1

    await asyncio.gather(*(work(1 + update_id % 3, update_id) for update_id in range(60)))
    for chat_id, ids in finished.items():
        assert ids == sorted(ids), chat_id
    assert most_at_once == 3, "one update per chat at a time, all chats at once"
    assert order.chats_in_flight == 0, "no per-chat state is left behind"


async def test_a_failed_update_lets_the_next_one_of_its_chat_go() -> None:
    order = ChatOrder()
    done: list[str] = []

    async def fails() -> None:
        async with order.turn(42):
            await asyncio.sleep(0.01)
            raise RuntimeError("the database went away")

    async def follows() -> None:
        async with order.turn(42):
            done.append("next")

    results = await asyncio.gather(fails(), follows(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert done == ["next"]
    assert order.chats_in_flight == 0


@pytest.mark.slow
async def test_quick_commands_are_answered_in_order_over_polling(tmp_path: Path) -> None:
    expected = {
        "telefon": "400 38 800",
        "merket": "Balansemerket",
        "hjelp": "/slett",
        "personvern": "ende-til-ende",
        "meny": "Hva vil du vite mer om",
    }
    commands = list(expected) * 4
    async with FakeBotApi() as fake:
        kari = fake.add_user("Kari")
        async with serving(fake, tmp_path, webhook=False):
            fake.send_command(kari, "start")
            await fake.wait_for_bot_messages(kari, 1)
            for command in commands:  # all queued before the bot polls again: they arrive as one batch
                fake.send_command(kari, command)
            messages = await fake.wait_for_bot_messages(kari, 1 + len(commands), within=20)
    for message, command in zip(messages[1:], commands, strict=True):
        assert expected[command] in (message.text or ""), command
