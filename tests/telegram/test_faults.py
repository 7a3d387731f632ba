"""Bot API faults through `balansebot serve`: each reply arrives exactly once, or fails honestly once.

Transient faults (500, nginx's 502/503/504 pages, a timeout, a reset connection, 429) are retried
with backoff and the reader gets one reply; permanent ones (400, 403) are not retried, and a webhook
delivery is acknowledged so Telegram does not loop on them. Retries are logged without the reader.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.fake_bot_api import FakeBotApi, FakeUser, Op
from tests.telegram.serving import Served, serving

pytestmark = pytest.mark.slow
TYPED = "når er telefonen åpen egentlig, lurer jeg på"
PHONE = "400 38 800"
FAST = {"BOT_API_TIMEOUT_SECONDS": "1"}  # a hung call times out in 1 s instead of PTB's 5 s
PARSE_ERROR = "Bad Request: can't parse entities: Can't find end of the entity starting at byte offset 0"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API."""
    async with FakeBotApi() as server:
        yield server


def sends(fake: FakeBotApi, user: FakeUser) -> list[Op]:
    """Every sendMessage the bot made to one chat, faults included."""
    return [op for op in fake.ops_for("sendMessage") if op.chat_id == user.id]


def answer(op: Op) -> str:
    """How the fake answered a call: 'ok', an error code, or the injected fault's kind."""
    if op.fault in ("hang", "drop", "raw"):
        return op.fault
    return "ok" if op.ok else str(op.error_code)


async def settle(fake: FakeBotApi) -> None:
    """Wait until Telegram has nothing left to deliver, and a little more for a late duplicate."""
    await fake.drain(within=15)
    await asyncio.sleep(0.3)


def assert_nothing_personal(served: Served, user: FakeUser, *typed: str) -> None:
    """The log holds neither the chat id, the name, the username nor what was typed."""
    log = served.log_text()
    for secret in (str(user.id), user.first_name, user.username or "kari_faults", *typed):
        assert secret not in log, f"{secret!r} found in the log"


@pytest.mark.parametrize("webhook", [True, False], ids=["webhook", "polling"])
async def test_transient_faults_are_retried_and_each_reply_arrives_once(
    fake: FakeBotApi, tmp_path: Path, webhook: bool
) -> None:
    kari = fake.add_user("Kari", username="kari_faults")
    # (fault to prepare, what the bot's sendMessage attempts must look like)
    steps = [
        (lambda: fake.server_error("sendMessage", 500), ["500", "ok"]),
        (lambda: fake.server_error("sendMessage", 502), ["raw", "ok"]),
        (lambda: fake.server_error("sendMessage", 503, count=2), ["raw", "raw", "ok"]),
        (lambda: fake.server_error("sendMessage", 504), ["raw", "ok"]),
        (lambda: fake.drop_connection("sendMessage"), ["drop", "ok"]),
        (lambda: fake.hang("sendMessage"), ["hang", "ok"]),  # times out after BOT_API_TIMEOUT_SECONDS
        (lambda: fake.rate_limit("sendMessage", retry_after=1), ["429", "ok"]),
    ]
    async with serving(fake, tmp_path, webhook=webhook, **FAST) as served:
        for number, (prepare, expected) in enumerate(steps, start=1):
            before = len(sends(fake, kari))
            prepare()
            fake.send_text(kari, TYPED)
            messages = await fake.wait_for_bot_messages(kari, number, within=15)
            assert PHONE in (messages[-1].text or "")
            await settle(fake)
            fake.release_hangs()
            attempts = [answer(op) for op in sends(fake, kari)[before:]]
            assert attempts == expected, (number, attempts)
            assert len(fake.bot_messages(kari)) == number, "exactly one reply"
        assert not fake.dropped_webhook_updates
        assert served.log_text().count("Bot API call failed") == 7, (
            "each retry after a network fault is logged"
        )
    assert_nothing_personal(served, kari, TYPED)


async def test_429_waits_retry_after_then_sends_once(fake: FakeBotApi, tmp_path: Path) -> None:
    kari = fake.add_user("Kari")
    async with serving(fake, tmp_path, webhook=False):
        fake.rate_limit("sendMessage", retry_after=2, count=2)
        fake.send_command(kari, "telefon")
        (reply,) = await fake.wait_for_bot_messages(kari, 1, within=15)
        await asyncio.sleep(0.3)
    assert PHONE in (reply.text or "")
    attempts = sends(fake, kari)
    assert [answer(op) for op in attempts] == ["429", "429", "ok"]
    assert attempts[1].at - attempts[0].at >= 2.0 and attempts[2].at - attempts[1].at >= 2.0


async def test_a_reply_slower_than_telegrams_webhook_timeout_is_still_sent_once(tmp_path: Path) -> None:
    # Telegram gives up waiting for the webhook's answer and delivers the update again while the
    # first delivery is still waiting out a 429: the second delivery must not answer a second time.
    async with FakeBotApi(webhook_timeout=1.0, webhook_retry_delays=(0.1, 0.5, 1, 2, 4)) as fake:
        kari = fake.add_user("Kari")
        async with serving(fake, tmp_path, webhook=True, **FAST) as served:
            fake.rate_limit("sendMessage", retry_after=2)
            fake.send_command(kari, "telefon")
            await fake.wait_for_bot_messages(kari, 1, within=15)
            await settle(fake)
            assert [answer(op) for op in sends(fake, kari)] == ["429", "ok"]
            assert len(fake.bot_messages(kari)) == 1, "the redelivery was not answered again"
            assert fake.webhook is not None and fake.webhook.last_error_message == "Read timeout expired"
            assert "answered before (redelivered)" in served.log_text()


@pytest.mark.parametrize("webhook", [True, False], ids=["webhook", "polling"])
async def test_a_connection_lost_after_telegram_sent_the_reply_duplicates_it(
    fake: FakeBotApi, tmp_path: Path, webhook: bool
) -> None:
    # Telegram delivered the message but the answer never came back. The Bot API has no idempotency
    # key, so the bot cannot know; it sends again: a duplicate is the lesser harm than a lost reply.
    kari = fake.add_user("Kari")
    async with serving(fake, tmp_path, webhook=webhook, **FAST):
        fake.drop_connection("sendMessage", after_processing=True)
        fake.send_command(kari, "telefon")
        await fake.wait_for_bot_messages(kari, 2, within=15)
        await settle(fake)
    first, second = fake.bot_messages(kari)
    assert first.text == second.text and PHONE in (first.text or "")
    assert [op.fault for op in sends(fake, kari)] == ["drop", None]


@pytest.mark.parametrize("webhook", [True, False], ids=["webhook", "polling"])
async def test_a_reply_telegram_cannot_parse_is_sent_as_plain_text_once(
    fake: FakeBotApi, tmp_path: Path, webhook: bool
) -> None:
    kari = fake.add_user("Kari", username="kari_faults")
    async with serving(fake, tmp_path, webhook=webhook) as served:
        fake.fail_next("sendMessage", 400, PARSE_ERROR)
        fake.send_command(kari, "telefon")
        (reply,) = await fake.wait_for_bot_messages(kari, 1, within=10)
        await settle(fake)
        attempts = sends(fake, kari)
        assert [answer(op) for op in attempts] == ["400", "ok"]
        assert attempts[0].params["parse_mode"] == "HTML" and "parse_mode" not in attempts[1].params
        assert PHONE in (reply.text or "") and "<" not in (reply.text or ""), "tags stripped, text kept"
        assert reply.entities == [] or all(e["type"] != "bold" for e in reply.entities)
        assert not fake.dropped_webhook_updates

        # The conversation carries on normally afterwards.
        fake.send_command(kari, "merket")
        messages = await fake.wait_for_bot_messages(kari, 2, within=10)
        assert "Balansemerket" in (messages[-1].text or "")
        assert sends(fake, kari)[-1].params["parse_mode"] == "HTML"
    assert_nothing_personal(served, kari)


@pytest.mark.parametrize("webhook", [True, False], ids=["webhook", "polling"])
async def test_a_reply_telegram_refuses_twice_is_given_up_once(
    fake: FakeBotApi, tmp_path: Path, webhook: bool
) -> None:
    kari = fake.add_user("Kari")
    async with serving(fake, tmp_path, webhook=webhook) as served:
        fake.fail_next("sendMessage", 400, "Bad Request: message is too long", count=2)
        fake.send_command(kari, "telefon")
        await fake.wait_for_call("sendMessage", 2, within=10)
        await settle(fake)
        assert [answer(op) for op in sends(fake, kari)] == ["400", "400"], "no loop on a permanent error"
        assert not fake.dropped_webhook_updates, "acknowledged: Telegram does not deliver it again"

        fake.send_command(kari, "merket")
        (reply,) = await fake.wait_for_bot_messages(kari, 1, within=10)
        assert "Balansemerket" in (reply.text or "")
        assert served.process.returncode is None
    assert "could not be answered (400 Message is too long)" in served.log_text()


@pytest.mark.parametrize("webhook", [True, False], ids=["webhook", "polling"])
async def test_a_reader_who_blocked_the_bot_is_not_written_to_again(
    fake: FakeBotApi, tmp_path: Path, webhook: bool
) -> None:
    kari = fake.add_user("Kari", username="kari_faults")
    ola = fake.add_user("Ola")
    async with serving(fake, tmp_path, webhook=webhook) as served:
        fake.send_command(kari, "start")
        await fake.wait_for_bot_messages(kari, 1)
        # Kari blocks the bot just as her message is on its way: the reply meets a 403.
        fake.fail_chat(kari.id, 403, "Forbidden: bot was blocked by the user")
        fake.send_text(kari, TYPED)
        await fake.wait_until(lambda: len(sends(fake, kari)) == 2, within=10, what="the refused send")
        await settle(fake)
        assert [answer(op) for op in sends(fake, kari)] == ["ok", "403"], "no retry of a 403"
        assert not fake.dropped_webhook_updates

        fake.send_command(ola, "telefon")  # everyone else is answered as before
        (reply,) = await fake.wait_for_bot_messages(ola, 1)
        assert PHONE in (reply.text or "")
        assert served.process.returncode is None
    log = served.log_text()
    assert "could not be answered (403 Forbidden: bot was blocked by the user)" in log
    assert_nothing_personal(served, kari, TYPED)
