"""Abuse through the real `balansebot serve` (webhook, offline Bot API): a flooding chat, huge bodies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.engine import callbacks
from bot.telegram.flood import ACUTE_BURST, ACUTE_PER_SECOND
from tests.support.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.serving import UNPACED, WEBHOOK_PATH, WEBHOOK_SECRET, Served, serving
from tests.telegram.test_metrics import scrape_until, value

pytestmark = [pytest.mark.slow, pytest.mark.own_database]
BURST, PER_SECOND = 10, 2.0
BREATH = "Det kom mange meldinger på en gang"
ACUTE = "hjelp, han slår meg nå"
QUESTION = "når er telefonen åpen"
LIMIT = 262_144  # WEBHOOK_MAX_BODY_BYTES's default


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API without Telegram's flood limits, and the bot unpaced (UNPACED).

    Flood control on its own: Telegram's limit of about one message a second in a chat (and the
    bot's pacing to it, tests/telegram/test_outbound.py and test_spike.py) would otherwise set the
    pace, since Telegram delivers a chat's next update only once the last one is answered.
    """
    async with FakeBotApi(flood_limits=None) as server:
        yield server


def texts(fake: FakeBotApi, user: FakeUser) -> list[str]:
    """The bot's messages to a user as they stand now (after edits)."""
    return [m.text or "" for m in fake.bot_messages(user, include_deleted=True)]


async def test_a_flooding_chat_is_slowed_down_alone_and_acute_messages_still_get_through(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    flooder = fake.add_user("Flom", language_code="nb")
    calm = fake.add_user("Rolig", language_code="nb")
    settings = {"FLOOD_BURST": str(BURST), "FLOOD_PER_SECOND": str(PER_SECOND), "LOG_LEVEL": "INFO"}
    async with serving(fake, tmp_path, webhook=True, **UNPACED, **settings) as served:
        fake.send_command(flooder, "start")
        (greeting,) = await fake.wait_for_bot_messages(flooder, 1)

        # 60 updates at once from one chat: typed questions, one acute message, one button press.
        started = time.monotonic()
        query_id = ""
        for index in range(60):
            if index == 40:
                fake.send_text(flooder, ACUTE)
            elif index == 50:
                query_id = fake.press_button(flooder, greeting, callbacks.goto("telefon"))["callback_query"][
                    "id"
                ]
            else:
                fake.send_text(flooder, f"{QUESTION} {index}")

        # Meanwhile another chat is answered promptly, every time.
        for command in ("start", "telefon", "merket", "hjelp", "personvern"):
            before = len(texts(fake, calm))
            asked = time.monotonic()
            fake.send_command(calm, command)
            await fake.wait_for_bot_messages(calm, before + 1, within=5)
            assert time.monotonic() - asked < 3, f"/{command} waited behind the flood"

        await fake.drain(within=30)
        elapsed = time.monotonic() - started
        answers = texts(fake, flooder)[1:]
        print(f"{len(answers)} answers to 60 updates in {elapsed:.2f} s")  # shown with -s
        assert sum(BREATH in text for text in answers) == 1, answers
        assert any("112" in text for text in answers), "the acute message was answered"
        # The burst, what refilled while the flood was being handled, the acute answer and the notice.
        assert BURST <= len(answers) <= BURST + PER_SECOND * elapsed + 2, (len(answers), elapsed)
        assert [
            op for op in fake.ops_for("answerCallbackQuery") if op.params.get("callback_query_id") == query_id
        ]

        samples = await scrape_until(
            served, lambda s: value(s, "balansebot_flood_throttled_total", action="notified") == 1
        )
        assert value(samples, "balansebot_flood_throttled_total", action="acute_answered") == 1
        assert value(samples, "balansebot_flood_throttled_total") == 60 - (len(answers) - 2)

        # After a breath, the chat is answered as usual again.
        await asyncio.sleep(1.5 / PER_SECOND)
        count = len(texts(fake, flooder))
        fake.send_text(flooder, QUESTION)
        messages = await fake.wait_for_bot_messages(flooder, count + 1)
        assert "400 38 800" in (messages[-1].text or "")
        assert BREATH not in (messages[-1].text or "")
    assert "Traceback" not in served.log_text()
    assert str(flooder.id) not in served.log_text(), "flood control logs no chat id"


async def test_slett_after_a_burst_is_never_throttled_away(fake: FakeBotApi, tmp_path: Path) -> None:
    """A frightened person types fast, then asks to delete everything: /slett still works."""
    kari = fake.add_user("Kari", language_code="nb")
    settings = {"FLOOD_BURST": str(BURST), "FLOOD_PER_SECOND": str(PER_SECOND)}
    async with serving(fake, tmp_path, webhook=True, **UNPACED, **settings) as served:
        for index in range(BURST + 15):
            fake.send_text(kari, f"{QUESTION} {index}")
        fake.send_command(kari, "slett")
        await fake.drain(within=30)
        assert any("Ferdig" in text for text in texts(fake, kari)), "the deletion was confirmed"
        samples = await scrape_until(
            served, lambda s: value(s, "balansebot_flood_throttled_total", action="command_answered") == 1
        )
        assert value(samples, "balansebot_flood_throttled_total", action="command_answered") == 1


async def test_a_flood_of_acute_words_is_answered_loosely_not_without_limit(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    """A script sending "kniv" forty times gets a handful of acute answers, not forty."""
    bot = fake.add_user("Skript", language_code="nb")
    settings = {"FLOOD_BURST": str(BURST), "FLOOD_PER_SECOND": str(PER_SECOND)}
    async with serving(fake, tmp_path, webhook=True, **UNPACED, **settings) as served:
        started = time.monotonic()
        for index in range(40):
            fake.send_text(bot, f"{ACUTE} {index}")
        await fake.drain(within=30)
        elapsed = time.monotonic() - started
        samples = await scrape_until(
            served, lambda s: value(s, "balansebot_flood_throttled_total", action="notified") == 1
        )
    answered_over_limit = value(samples, "balansebot_flood_throttled_total", action="acute_answered")
    # The burst answered as usual; over it, ACUTE_BURST at once and one every ten seconds after.
    assert ACUTE_BURST <= answered_over_limit <= ACUTE_BURST + ACUTE_PER_SECOND * elapsed + 1
    answers = texts(fake, bot)
    assert len(answers) <= BURST + PER_SECOND * elapsed + answered_over_limit + 1, len(answers)
    assert all("112" in text for text in answers), "every answer, the notice too, names 112"


async def test_flood_control_can_be_turned_off(fake: FakeBotApi, tmp_path: Path) -> None:
    kari = fake.add_user("Kari", language_code="nb")
    async with serving(fake, tmp_path, webhook=True, **UNPACED, FLOOD_BURST="0"):
        for index in range(25):
            fake.send_text(kari, f"{QUESTION} {index}")
        await fake.drain(within=30)
        await fake.wait_for_bot_messages(kari, 25, within=10)
    assert not any(BREATH in text for text in texts(fake, kari))


async def test_the_notice_is_in_the_readers_language(fake: FakeBotApi, tmp_path: Path) -> None:
    anna = fake.add_user("Anna", language_code="en")
    async with serving(fake, tmp_path, webhook=True, **UNPACED, FLOOD_BURST="2", FLOOD_PER_SECOND="0.1"):
        for index in range(5):
            fake.send_text(anna, f"{QUESTION} {index}")
        await fake.drain(within=30)
        answers = texts(fake, anna)
    assert len(answers) == 3, answers
    assert "A lot of messages arrived at once" in answers[-1]
    assert "call 112" in answers[-1] and "breath" not in answers[-1]


async def _raw_post(served: Served, head: list[str], body: bytes) -> bytes:
    """Send a request by hand, its body cut short; the server's answer, if it answers before the end."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        lines = [
            f"POST {WEBHOOK_PATH} HTTP/1.1",
            f"Host: 127.0.0.1:{served.port}",
            "Content-Type: application/json",
            f"X-Telegram-Bot-Api-Secret-Token: {WEBHOOK_SECRET}",
            *head,
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        # The body never ends: a server that waited for all of it would never answer.
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    finally:
        writer.close()


async def test_oversized_bodies_are_refused_before_they_are_read(fake: FakeBotApi, tmp_path: Path) -> None:
    async with serving(fake, tmp_path, webhook=True, **UNPACED) as served:
        # A Content-Length over the limit: refused on the header alone, nothing of the body sent.
        answer = await _raw_post(served, [f"Content-Length: {100 * LIMIT}"], b"")
        assert answer.startswith(b"HTTP/1.1 413"), answer
        # No Content-Length (chunked): refused once the limit is passed, long before the body's end.
        chunk = b'{"update_id": 1, "x": "' + b"x" * (LIMIT + 1000)
        answer = await _raw_post(
            served, ["Transfer-Encoding: chunked"], b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 413"), answer
        assert fake.ops_for("sendMessage") == [], "nothing refused was answered"
        # The server goes on as usual.
        kari = fake.add_user("Kari", language_code="nb")
        fake.send_command(kari, "start")
        await fake.wait_for_bot_messages(kari, 1)
