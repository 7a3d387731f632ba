"""AiohttpRequest carries python-telegram-bot's traffic like HTTPXRequest, checked on the fake Bot API."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, ContextTypes, MessageHandler, filters
from telegram.request import BaseRequest

from bot.telegram.transport import POOL_TIMEOUT_MESSAGE, AiohttpRequest
from tests.support.fake_bot_api import FakeBotApi, FakeUser


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    # The transport alone, sending faster than Telegram allows one chat: no flood control here.
    async with FakeBotApi(flood_limits=None) as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeBotApi) -> AsyncIterator[Bot]:
    ptb_bot = Bot(
        server.token,
        base_url=server.base_url,
        request=AiohttpRequest(),
        get_updates_request=AiohttpRequest(connection_pool_size=1),
    )
    async with ptb_bot:
        yield ptb_bot


@pytest.fixture
def kari(server: FakeBotApi) -> FakeUser:
    person = server.add_user("Kari")
    server.send_text(person, "hei")
    return person


async def test_get_me_goes_through_aiohttp_with_ptbs_user_agent(server: FakeBotApi, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "balansebot_test_bot"
    op = server.ops_for("getMe")[-1]
    assert op.user_agent == BaseRequest.USER_AGENT
    assert op.http_method == "POST"


async def test_send_message_with_html_and_inline_keyboard(
    server: FakeBotApi, bot: Bot, kari: FakeUser
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ja, takk", callback_data="svar:ja")]])
    message = await bot.send_message(
        kari.id, "Vil du <b>snakke</b> med noen?", parse_mode=ParseMode.HTML, reply_markup=keyboard
    )
    assert message.text == "Vil du snakke med noen?"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bold", 7, 6)]
    assert message.reply_markup == keyboard
    op = server.ops_for("sendMessage")[-1]
    # A JSON body (cheaper to encode than HTTPXRequest's form), nested objects as JSON fields.
    assert op.content_type == "application/json"
    assert op.param_json("reply_markup") == {
        "inline_keyboard": [[{"text": "Ja, takk", "callback_data": "svar:ja"}]]
    }


async def test_telegram_errors_become_ptb_exceptions(server: FakeBotApi, bot: Bot, kari: FakeUser) -> None:
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(kari.id, "<br>", parse_mode=ParseMode.HTML)
    assert caught.value.message == 'Can\'t parse entities: unsupported start tag "br" at byte offset 0'
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(1, "hei")
    server.block_bot(kari)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(kari.id, "hei")


async def test_flood_control_becomes_retry_after(
    server: FakeBotApi, bot: Bot, kari: FakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # retry_after as a timedelta, without warnings
    server.rate_limit("sendMessage", 42)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(kari.id, "hei")
    assert caught.value.retry_after == dtm.timedelta(seconds=42)


async def test_a_hang_past_the_read_timeout_is_timed_out(
    server: FakeBotApi, bot: Bot, kari: FakeUser
) -> None:
    server.hang("sendMessage")
    with pytest.raises(TimedOut):
        await bot.send_message(kari.id, "hei", read_timeout=0.3)


async def test_an_explicit_timeout_overrides_the_default(server: FakeBotApi, kari: FakeUser) -> None:
    async with Bot(server.token, base_url=server.base_url, request=AiohttpRequest(read_timeout=0.2)) as bot:
        server.hang("sendMessage")
        call = asyncio.create_task(bot.send_message(kari.id, "hei", read_timeout=10))
        await server.wait_for_call("sendMessage")
        server.release_hangs()
        # The hung call ends with the fake's 500: a 0.2 s read timeout would have fired first.
        with pytest.raises(NetworkError, match=r"Internal Server Error") as caught:
            await asyncio.wait_for(call, 5)
        assert not isinstance(caught.value, TimedOut)


async def test_a_dropped_connection_is_a_network_error(server: FakeBotApi, bot: Bot, kari: FakeUser) -> None:
    server.drop_connection("sendMessage")
    with pytest.raises(NetworkError, match=r"aiohttp\.ServerDisconnectedError") as caught:
        await bot.send_message(kari.id, "hei")
    assert not isinstance(caught.value, TimedOut)
    assert await bot.send_message(kari.id, "igjen")  # the pool recovers


async def test_a_full_pool_times_out_with_ptbs_message(server: FakeBotApi, kari: FakeUser) -> None:
    request = AiohttpRequest(connection_pool_size=1, pool_timeout=0.2)
    async with Bot(server.token, base_url=server.base_url, request=request) as bot:
        server.hang("sendMessage")
        occupying = asyncio.create_task(bot.send_message(kari.id, "en", read_timeout=10))
        await server.wait_for_call("sendMessage")
        with pytest.raises(TimedOut) as caught:
            await bot.send_message(kari.id, "to")
        assert caught.value.message == POOL_TIMEOUT_MESSAGE
        assert len(server.ops_for("sendMessage")) == 1  # the second was never sent
        server.release_hangs()
        with pytest.raises(NetworkError):
            await occupying


async def test_shutdown_closes_the_session_and_initialize_reopens_it(server: FakeBotApi) -> None:
    request = AiohttpRequest()
    assert request.is_closed  # nothing is opened at construction
    await request.initialize()
    assert not request.is_closed
    status, payload = await request.do_request(f"{server.api_url}/getMe", "POST")
    assert status == 200
    assert b'"ok":true' in payload.replace(b" ", b"")
    await request.shutdown()
    assert request.is_closed
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(f"{server.api_url}/getMe", "POST")
    await request.shutdown()  # a second shutdown is harmless
    async with request:
        assert (await request.do_request(f"{server.api_url}/getMe", "POST"))[0] == 200
    assert request.is_closed


async def test_two_hundred_concurrent_messages(server: FakeBotApi, bot: Bot, kari: FakeUser) -> None:
    sent = await asyncio.gather(*(bot.send_message(kari.id, f"melding {i}") for i in range(200)))
    assert len({m.message_id for m in sent}) == 200
    assert len(server.bot_messages(kari)) == 200
    assert sorted(m.text for m in server.bot_messages(kari)) == sorted(f"melding {i}" for i in range(200))


async def test_files_go_as_multipart_like_httpx() -> None:
    async with FakeBotApi(verify_webhook=False) as server:
        certificate = InputFile(b"-----BEGIN CERTIFICATE-----\n...", filename="cert.pem")
        async with Bot(server.token, base_url=server.base_url, request=AiohttpRequest()) as bot:
            await bot.set_webhook("https://127.0.0.1:8443/hook", certificate=certificate, max_connections=7)
        op = server.ops_for("setWebhook")[-1]
    assert op.ok
    assert op.content_type == "multipart/form-data"
    assert op.params["certificate"] == "<file cert.pem>"
    assert op.params["max_connections"] == "7"


async def test_a_stalled_upload_is_timed_out() -> None:
    # A peer that accepts the connection and never reads: the upload fills the socket buffers.
    stop = asyncio.Event()

    async def never_read(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stop.wait()
        writer.close()

    tcp = await asyncio.start_server(never_read, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    request = AiohttpRequest(read_timeout=0.2, connect_timeout=0.5, media_write_timeout=0.3)
    try:
        async with request:
            # Never initialised (that would ask getMe of a peer that never answers): only the upload.
            bot = Bot("123456:stalled", base_url=f"http://127.0.0.1:{port}/bot", request=request)
            upload = InputFile(b"x" * (64 * 1024 * 1024), filename="stor.bin")
            with pytest.raises(TimedOut):
                await asyncio.wait_for(bot.set_webhook("https://127.0.0.1/x", certificate=upload), 10)
    finally:
        stop.set()
        tcp.close()
        await tcp.wait_closed()


def test_settings_are_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="proxies"):
        AiohttpRequest(proxy="socks5://127.0.0.1:1080")
    with pytest.raises(ValueError, match="at least 1"):
        AiohttpRequest(connection_pool_size=0)
    assert AiohttpRequest(read_timeout=7.5).read_timeout == 7.5
    assert AiohttpRequest().connection_pool_size == 256


async def test_an_application_polls_and_replies_over_aiohttp(server: FakeBotApi) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text is not None
        await update.effective_message.reply_text(update.effective_message.text.upper())

    application = (
        Application.builder()
        .token(server.token)
        .base_url(server.base_url)
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    tone = server.add_user("Tone")
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(timeout=1)
        server.send_text(tone, "hallo")
        server.send_text(tone, "er du der")
        replies = await server.wait_for_bot_messages(tone, 2)
        await application.updater.stop()
        await application.stop()
    assert [m.text for m in replies] == ["HALLO", "ER DU DER"]
    assert {op.user_agent for op in server.ops} == {BaseRequest.USER_AGENT}
