"""Leads in staff's Telegram chat via a real telegram.Bot on the offline Bot API, alone or with e-mail."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.content.telegram_html import MAX_MESSAGE_LENGTH
from bot.delivery.email import EmailChannel, SmtpConfig
from bot.delivery.leads import OutboxLeads
from bot.delivery.telegram_chat import TelegramChannel, staff_message
from bot.delivery.worker import FIRST_DELAY, MAX_DELAY, deliver_due, run_forever
from bot.engine.form import InterestForm
from bot.engine.lead import Lead
from bot.engine.model import SubmitLead
from bot.storage.database import create_engine
from bot.storage.outbox import LeadOutbox
from bot.telegram.transport import AiohttpRequest
from tests.support.fake_bot_api import FakeBotApi, FakeChat
from tests.support.outbox import enqueue
from tests.support.smtp import WAIT, SmtpServer
from tests.telegram.serving import free_port

NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
LEAD = Lead(
    organisation='<b>Bærum</b> Kulturhus & "Søndre scene"',
    actor_kind="organising",
    size="ca. 40 <i>fast</i>",
    contact_person="Åse Ødegård",
    contact="ase.odegard@example.no",
    message="Vi vil gjerne høre mer.\n<script>alert(1)</script> &amp; takk </b>",
    lang="nn",
)
PRIVATE = ("Bærum", "Ødegård", "ase.odegard", "Vi vil gjerne", "script")


@pytest.fixture(autouse=True)
def timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22's retry_after as a timedelta, as `balansebot serve` sets it (no deprecation warnings)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API."""
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeBotApi) -> AsyncIterator[Bot]:
    """A real python-telegram-bot Bot on the fake, over the bot's own transport."""
    async with Bot(fake.token, base_url=fake.base_url, request=AiohttpRequest()) as ptb_bot:
        yield ptb_bot


@pytest.fixture
def staff(fake: FakeBotApi) -> FakeChat:
    """Staff's group, with the bot as a member."""
    return fake.add_group("Balansekunst – henvendelser")


@pytest.fixture
async def outbox(database_url: str) -> AsyncIterator[LeadOutbox]:
    """An outbox on the database."""
    engine = create_engine(database_url)
    yield LeadOutbox(engine)
    await engine.dispose()


async def stored(outbox: LeadOutbox, lead_id: str) -> dict[str, Any]:
    """The lead's row as stored."""
    table = outbox._table
    async with outbox._engine.connect() as conn:
        row = (await conn.execute(table.select().where(table.c.id == lead_id))).one()
    return dict(row._mapping)


def utc(moment: dt.datetime) -> dt.datetime:
    """A stored datetime, as UTC (SQLite returns it without the offset)."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def smtp_config(port: int) -> SmtpConfig:
    """Plain SMTP on loopback."""
    return SmtpConfig(
        "127.0.0.1", port, None, None, False, False, "bot@balansekunst.no", "post@balansekunst.no", 30.0
    )


async def test_a_lead_arrives_once_in_the_staff_group_with_its_input_literal(
    fake: FakeBotApi, bot: Bot, staff: FakeChat, outbox: LeadOutbox
) -> None:
    lead_id = await enqueue(outbox, LEAD, NOW, "telegram")
    channel = TelegramChannel(bot, staff.id)
    report = await deliver_due(outbox, channel, NOW)
    assert (report.delivered, report.retrying, report.rejected) == (1, 0, 0)
    assert (await deliver_due(outbox, channel, NOW + dt.timedelta(days=1))).claimed == 0
    assert await outbox.depth() == 0
    [message] = fake.bot_messages(staff)
    lines = (message.text or "").splitlines()
    for line in (
        'Organisasjon: <b>Bærum</b> Kulturhus & "Søndre scene"',
        "Type aktør: arrangør",
        "Omtrent antall personer: ca. 40 <i>fast</i>",
        "Kontaktperson: Åse Ødegård",
        "Kontakt: ase.odegard@example.no",
        "Melding: Vi vil gjerne høre mer.",
        "<script>alert(1)</script> &amp; takk </b>",
        "Språk i chatten: norsk nynorsk",
        "Sendt inn: 30.11.2026 kl. 10:00",
        f"Referanse: {lead_id}",
    ):
        assert line in lines
    assert "Svar på denne e-posten for å skrive til kontaktpersonen." not in lines
    # Sent as plain text: nothing the organisation typed became formatting.
    assert "parse_mode" not in fake.ops_for("sendMessage")[-1].params
    assert {entity["type"] for entity in message.entities} <= {"email", "url", "phone_number"}


async def test_a_502_then_success_is_delivered_once(
    fake: FakeBotApi, bot: Bot, staff: FakeChat, outbox: LeadOutbox
) -> None:
    lead_id = await enqueue(outbox, LEAD, NOW, "telegram")
    channel = TelegramChannel(bot, staff.id)
    fake.server_error("sendMessage", 502)
    assert (await deliver_due(outbox, channel, NOW)).retrying == 1
    row = await stored(outbox, lead_id)
    assert row["attempts"] == 1
    assert row["last_error"].startswith("NetworkError: Bad Gateway (502)")
    retry_at = utc(row["next_attempt_at"])
    assert NOW + FIRST_DELAY * 0.8 <= retry_at <= NOW + FIRST_DELAY * 1.2
    assert fake.bot_messages(staff) == []
    assert (await deliver_due(outbox, channel, retry_at - dt.timedelta(seconds=1))).claimed == 0
    assert (await deliver_due(outbox, channel, retry_at)).delivered == 1
    assert (await deliver_due(outbox, channel, retry_at + dt.timedelta(days=1))).claimed == 0
    assert len(fake.bot_messages(staff)) == 1
    row = await stored(outbox, lead_id)
    assert (row["attempts"], utc(row["delivered_at"])) == (2, retry_at)


def chat_not_found(fake: FakeBotApi, staff: FakeChat) -> tuple[int, str, Callable[[], object]]:
    """STAFF_CHAT_ID names no chat the bot knows; someone corrects it."""
    return -999_999, "400 Chat not found", lambda: None


def bot_removed(fake: FakeBotApi, staff: FakeChat) -> tuple[int, str, Callable[[], object]]:
    """Someone removed the bot from the staff group; someone adds it again."""
    admin = fake.add_user("Admin")
    fake.set_bot_status(staff, "kicked", by=admin)
    return (
        staff.id,
        "403 Forbidden: bot was kicked",
        lambda: fake.set_bot_status(staff, "member", by=admin),
    )


@pytest.mark.parametrize("problem", [chat_not_found, bot_removed])
async def test_a_chat_the_bot_cannot_post_to_is_retried_hourly_and_logged_without_the_lead(
    fake: FakeBotApi,
    bot: Bot,
    staff: FakeChat,
    outbox: LeadOutbox,
    caplog: pytest.LogCaptureFixture,
    problem: Callable[[FakeBotApi, FakeChat], tuple[int, str, Callable[[], object]]],
) -> None:
    chat_id, summary, fix = problem(fake, staff)
    lead_id = await enqueue(outbox, LEAD, NOW, "telegram")
    with caplog.at_level(logging.INFO):
        report = await deliver_due(outbox, TelegramChannel(bot, chat_id), NOW)
    assert report.rejected == 1
    row = await stored(outbox, lead_id)
    assert row["last_error"] == summary
    retry_at = utc(row["next_attempt_at"])
    assert NOW + MAX_DELAY * 0.8 <= retry_at <= NOW + MAX_DELAY
    [record] = [r for r in caplog.records if r.name.startswith("bot.delivery")]
    assert record.levelno == logging.ERROR
    assert lead_id in record.getMessage() and summary in record.getMessage()
    for private in PRIVATE:
        assert private not in caplog.text
    fix()
    assert (await deliver_due(outbox, TelegramChannel(bot, staff.id), retry_at)).delivered == 1
    assert len(fake.bot_messages(staff)) == 1


@pytest.mark.parametrize(
    ("error", "described"),
    [
        (RetryAfter(42), ("RetryAfter: Flood control exceeded. Retry in 0:00:42", False)),
        (TimedOut(), ("TimedOut: Timed out", False)),
        (
            NetworkError("aiohttp.ServerDisconnectedError: gone"),
            ("NetworkError: aiohttp.ServerDisconnectedError: gone", False),
        ),
        (BadRequest("Chat not found"), ("400 Chat not found", True)),
        (
            Forbidden("Forbidden: bot was blocked by the user"),
            ("403 Forbidden: bot was blocked by the user", True),
        ),
        # A description the bot does not know could quote what was sent: only its code is kept.
        (BadRequest('Unsupported start tag "kari@x.no"\nat byte 3'), ("400 (description withheld)", True)),
        (ChatMigrated(-1001234567890), ("ChatMigrated to -1001234567890", True)),
    ],
)
async def test_telegram_errors_are_transient_or_permanent(
    bot: Bot, error: Exception, described: tuple[str, bool]
) -> None:
    assert TelegramChannel(bot, -1).describe(error) == described


async def test_an_unexpected_error_is_left_to_the_worker(bot: Bot) -> None:
    assert TelegramChannel(bot, -1).describe(ValueError("a bug")) is None


async def test_a_long_message_is_shortened_to_fit_one_telegram_message(
    fake: FakeBotApi, bot: Bot, staff: FakeChat, outbox: LeadOutbox
) -> None:
    # 🎭 is two UTF-16 code units, as Telegram counts: the cut must not split one.
    long = dataclasses.replace(LEAD, message="Hei! " + "🎭" * 3000)
    lead_id = await enqueue(outbox, long, NOW, "telegram")
    assert (await deliver_due(outbox, TelegramChannel(bot, staff.id), NOW)).delivered == 1
    [message] = fake.bot_messages(staff)
    text = message.text or ""
    assert len(text.encode("utf-16-le")) // 2 <= MAX_MESSAGE_LENGTH
    assert "Melding: Hei! 🎭🎭" in text and "🎭…" in text and "\ufffd" not in text
    assert f"Referanse: {lead_id}" in text  # the fields after the message are all still there


def test_a_lead_too_long_even_without_its_message_is_cut_too() -> None:
    huge = dataclasses.replace(LEAD, organisation="Å" * 5000, message=None)
    text = staff_message(huge, "id-1", NOW)
    assert len(text.encode("utf-16-le")) // 2 <= MAX_MESSAGE_LENGTH
    assert text.endswith("…")


async def test_each_channel_gets_the_lead_once_and_a_hanging_mail_server_holds_nothing_back(
    fake: FakeBotApi, bot: Bot, staff: FakeChat, outbox: LeadOutbox
) -> None:
    answers = (
        ("organisation", "Kulturhuset Ålesund"),
        ("actor_kind", "organising"),
        ("size", "rundt 25"),
        ("contact_person", "Kari Ærlig"),
        ("contact", "kari@kulturhuset.no"),
    )
    # A mail server that accepts the connection and never says a word: the e-mail hangs.
    release = asyncio.Event()

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()

    hanging = await asyncio.start_server(silent, "127.0.0.1", 0)
    hanging_port = hanging.sockets[0].getsockname()[1]
    channels = [EmailChannel(smtp_config(hanging_port)), TelegramChannel(bot, staff.id)]
    leads = OutboxLeads(outbox, channels)
    await leads.submit(SubmitLead(form=InterestForm(step="summary", answers=answers), lang="nb"), NOW)
    assert await outbox.depth() == 2
    loop = asyncio.create_task(run_forever(outbox, channels, 0.05, lambda: NOW))
    try:
        [posted] = await fake.wait_for_bot_messages(staff, 1, within=WAIT)
        async with asyncio.timeout(WAIT):  # the staff chat's copy marked delivered …
            while await outbox.depth() != 1:  # noqa: ASYNC110 - polling the database, bounded
                await asyncio.sleep(0.01)
        # … while the e-mail, claimed once and not failed, still waits for the server's greeting.
        table = outbox._table
        async with outbox._engine.connect() as conn:
            query = table.select().where(table.c.channel == "email")
            [waiting] = (await conn.execute(query)).all()
        assert (waiting.attempts, waiting.last_error, waiting.delivered_at) == (1, None, None)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
        release.set()
        hanging.close()
        await hanging.wait_closed()
    assert "Kontaktperson: Kari Ærlig" in (posted.text or "")

    # The cancelled send left the e-mail claimed; once its lease has run out, a working server gets it.
    server = SmtpServer(free_port())
    server.start()
    try:
        email = EmailChannel(smtp_config(server.port))
        assert (await deliver_due(outbox, email, NOW + outbox.lease)).delivered == 1
        assert (await deliver_due(outbox, email, NOW + dt.timedelta(days=1))).claimed == 0
    finally:
        server.stop()
    [mail] = server.recorder.parsed()
    assert "Kontaktperson: Kari Ærlig" in mail.get_content()
    assert (await deliver_due(outbox, channels[1], NOW + dt.timedelta(days=1))).claimed == 0
    assert len(fake.bot_messages(staff)) == 1
    assert await outbox.depth() == 0
