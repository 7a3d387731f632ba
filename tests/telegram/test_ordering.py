"""Updates run concurrently across chats but strictly in order within one chat."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from telegram import Chat, Message, Update

from bot.engine.model import FreeText
from bot.telegram.conversations import Incoming
from bot.telegram.ordering import ChatOrderedUpdateProcessor
from tests.support.fake_bot_api import FakeBotApi
from tests.telegram.serving import serving


def update(update_id: int, chat_id: int) -> Update:
    """A minimal private-chat message update."""
    chat = Chat(chat_id, Chat.PRIVATE)
    return Update(update_id, message=Message(update_id, date=None, chat=chat))  # type: ignore[arg-type]


async def test_one_chat_in_order_chats_side_by_side() -> None:
    processor = ChatOrderedUpdateProcessor(max_concurrent_updates=64)
    finished: dict[int, list[int]] = {1: [], 2: [], 3: []}
    running = 0
    most_at_once = 0
    rng = random.Random(7)

    async def work(chat_id: int, update_id: int) -> None:
        nonlocal running, most_at_once
        running += 1
        most_at_once = max(most_at_once, running)
        await asyncio.sleep(rng.uniform(0, 0.01))  # later updates may be faster: order must still hold
        finished[chat_id].append(update_id)
        running -= 1

    tasks = []
    for update_id in range(60):
        chat_id = 1 + update_id % 3
        tasks.append(
            asyncio.create_task(
                processor.process_update(update(update_id, chat_id), work(chat_id, update_id))
            )
        )
    await asyncio.gather(*tasks)
    for chat_id, ids in finished.items():
        assert ids == sorted(ids), chat_id
    assert most_at_once == 3, "one update per chat at a time, all chats at once"
    assert processor.chats_in_flight == 0, "no per-chat state is left behind"


async def test_direct_and_ptb_updates_of_one_chat_share_its_order() -> None:
    # The webhook answers ordinary messages without PTB's objects (Incoming) and the rest through
    # PTB (Update): a sticker and the text right after it must still be answered in that order.
    processor = ChatOrderedUpdateProcessor(max_concurrent_updates=8)
    order: list[str] = []

    async def work(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        order.append(name)

    await asyncio.gather(
        processor.process_update(update(1, 42), work("sticker", 0.05)),
        processor.process_update(Incoming(42, FreeText("hei"), update_id=2), work("text", 0)),
        processor.process_update(Incoming(43, FreeText("hei"), update_id=3), work("other chat", 0)),
    )
    assert order == ["other chat", "sticker", "text"]
    assert processor.chats_in_flight == 0


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
