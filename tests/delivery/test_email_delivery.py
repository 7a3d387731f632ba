"""Leads e-mailed to a real SMTP server on loopback (aiosmtpd): headers, outages, refusals, replicas."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import logging
import random
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.delivery.email import EmailChannel, SmtpConfig, build_message
from bot.delivery.worker import FIRST_DELAY, MAX_DELAY, backoff, deliver_due, run_forever
from bot.engine.lead import Lead
from bot.staff_words import speaking
from bot.storage.database import create_engine
from bot.storage.outbox import LeadOutbox
from tests.conftest import LOCALES
from tests.support.outbox import enqueue
from tests.support.smtp import WAIT, SmtpServer

NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
LEAD = Lead(
    organisation="Bærum Kulturhus – Søndre scene",
    actor_kind="organising",
    size="ca. 40 på huset, 200 frilansere",
    contact_person="Åse Ødegård",
    contact="ase.odegard@example.no",
    message="Vi vil gjerne høre mer om kurs før sesongstart. Hilsen Åse.",
    lang="nn",
)


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def smtp_config(port: int) -> SmtpConfig:
    """Plain SMTP on loopback, as aiosmtpd serves it."""
    return SmtpConfig(
        "127.0.0.1",
        port,
        None,
        None,
        False,
        False,
        "Balansebot <bot@balansekunst.no>",
        "post@balansekunst.no",
        5.0,
    )


def email_to(port: int) -> EmailChannel:
    """The e-mail channel to that server."""
    return EmailChannel(smtp_config(port))


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    """A running SMTP server."""
    smtp = SmtpServer(free_port())
    smtp.start()
    yield smtp
    smtp.stop()


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


async def test_the_email_reads_right_after_a_real_smtp_hop(outbox: LeadOutbox, server: SmtpServer) -> None:
    lead_id = await enqueue(outbox, LEAD, NOW)
    report = await deliver_due(outbox, email_to(server.port), NOW)
    assert (report.delivered, report.retrying, report.rejected) == (1, 0, 0)
    [message] = server.recorder.parsed()
    assert message["Subject"] == "Interesse for Balansemerket: Bærum Kulturhus – Søndre scene"
    assert message["From"] == "Balansebot <bot@balansekunst.no>"
    assert message["To"] == "post@balansekunst.no"
    assert message["Reply-To"] == "ase.odegard@example.no"
    assert message["Message-ID"] == f"<{lead_id}@balansebot>"
    assert message["Date"].datetime == NOW
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    body = message.get_content()
    for line in (
        "Organisasjon: Bærum Kulturhus – Søndre scene",
        "Type aktør: arrangør",
        "Omtrent antall personer: ca. 40 på huset, 200 frilansere",
        "Kontaktperson: Åse Ødegård",
        "Kontakt: ase.odegard@example.no",
        "Melding: Vi vil gjerne høre mer om kurs før sesongstart. Hilsen Åse.",
        "Språk i chatten: norsk nynorsk",
        "Sendt inn: 30.11.2026 kl. 10:00",
        "Organisasjonen har samtykket til at Balansekunst kontakter kontaktpersonen om Balansemerket.",
        f"Referanse: {lead_id}",
    ):
        assert line in body.splitlines()
    # Non-ASCII travels encoded (RFC 2047 in headers, quoted-printable in the body), never raw.
    assert server.recorder.messages[0].isascii()


def test_a_phone_contact_gets_no_reply_to_and_headers_cannot_be_forged() -> None:
    lead = Lead(
        organisation="Evil\r\nBcc: everyone@example.com",
        actor_kind="producing",
        size="3",
        contact_person="Ola\nNordmann",
        contact="+47 22 33 44 55",
        lang="en",
    )
    message = build_message(lead, "id-1", smtp_config(25))
    assert message["Reply-To"] is None
    assert message["Bcc"] is None
    assert message["Subject"] == "Interesse for Balansemerket: Evil Bcc: everyone@example.com"
    body = message.get_content()
    assert "Kontaktperson: Ola Nordmann" in body
    assert "Melding: (ingen)" in body
    assert "Svar på denne e-posten" not in body


@pytest.mark.parametrize("staff_lang", ["en", "nn"])
def test_the_email_stays_in_bokmal_whatever_the_staff_tools_speak(staff_lang: str) -> None:
    with speaking(staff_lang, LOCALES):
        message = build_message(LEAD, "id-1", smtp_config(25), dt.datetime(2026, 12, 4, 21, 5, tzinfo=dt.UTC))
    assert message["Subject"] == f"Interesse for Balansemerket: {LEAD.organisation}"
    body = message.get_content()
    assert "Type aktør: arrangør" in body
    assert "Sendt inn: 04.12.2026 kl. 22:05" in body


@pytest.mark.parametrize(
    ("contact", "reply_to"),
    [
        ("kari@bærum.no", "kari@xn--brum-voa.no"),
        ("åse@example.no", None),
        ("kari@example", None),
        ("Kari <kari@example.no>", None),
    ],
)
def test_reply_to_only_for_addresses_any_server_takes(contact: str, reply_to: str | None) -> None:
    lead = Lead(
        organisation="O", actor_kind="performing", size="1", contact_person="K", contact=contact, lang="nb"
    )
    message = build_message(lead, "id-2", smtp_config(25))
    assert message["Reply-To"] == reply_to
    assert message.as_bytes(policy=email.policy.SMTP).isascii()


async def test_smtp_down_then_up_delivers_exactly_once(outbox: LeadOutbox) -> None:
    down = SmtpServer(free_port())  # nothing listens yet: connections are refused
    channel = email_to(down.port)
    lead_id = await enqueue(outbox, LEAD, NOW)
    report = await deliver_due(outbox, channel, NOW)
    assert (report.delivered, report.retrying) == (0, 1)
    row = await stored(outbox, lead_id)
    assert row["attempts"] == 1
    assert row["last_error"] in {"SMTPConnectError", "SMTPConnectTimeoutError"}
    retry_at = utc(row["next_attempt_at"])
    assert NOW + FIRST_DELAY * 0.8 <= retry_at <= NOW + FIRST_DELAY * 1.2
    down.start()
    try:
        assert (await deliver_due(outbox, channel, retry_at - dt.timedelta(seconds=1))).claimed == 0
        assert (await deliver_due(outbox, channel, retry_at)).delivered == 1
        assert (await deliver_due(outbox, channel, retry_at + dt.timedelta(days=1))).claimed == 0
        assert len(down.recorder.messages) == 1
        assert await outbox.depth() == 0
        assert utc((await stored(outbox, lead_id))["delivered_at"]) == retry_at
    finally:
        down.stop()


async def test_greylisted_451_then_accepted_is_delivered_once(outbox: LeadOutbox, server: SmtpServer) -> None:
    channel = email_to(server.port)
    lead_id = await enqueue(outbox, LEAD, NOW)
    server.recorder.refusal = "451 4.7.1 Greylisted, please try again"
    later = NOW
    for attempt in (1, 2, 3):
        assert (await deliver_due(outbox, channel, later)).retrying == 1
        row = await stored(outbox, lead_id)
        assert (row["attempts"], row["last_error"]) == (attempt, "SMTPRecipientsRefused 451")
        nominal = FIRST_DELAY * 2 ** (attempt - 1)
        assert later + nominal * 0.8 <= utc(row["next_attempt_at"]) <= later + nominal * 1.2
        later = utc(row["next_attempt_at"])
    server.recorder.refusal = None
    assert (await deliver_due(outbox, channel, later)).delivered == 1
    assert (await deliver_due(outbox, channel, later + dt.timedelta(hours=2))).claimed == 0
    assert [m["Message-ID"] for m in server.recorder.parsed()] == [f"<{lead_id}@balansebot>"]


async def test_a_permanent_refusal_keeps_the_lead_and_logs_no_personal_data(
    outbox: LeadOutbox, server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    channel = email_to(server.port)
    lead_id = await enqueue(outbox, LEAD, NOW)
    server.recorder.refusal = "550 5.1.1 Mailbox unavailable"
    with caplog.at_level(logging.INFO):
        report = await deliver_due(outbox, channel, NOW)
    assert report.rejected == 1
    row = await stored(outbox, lead_id)
    assert row["last_error"] == "SMTPRecipientsRefused 550"
    assert NOW + MAX_DELAY * 0.8 <= utc(row["next_attempt_at"]) <= NOW + MAX_DELAY
    [record] = [r for r in caplog.records if r.name.startswith("bot.delivery")]
    assert record.levelno == logging.ERROR
    assert lead_id in record.getMessage()
    for private in ("Bærum", "Ødegård", "ase.odegard", "Vi vil gjerne"):
        assert private not in caplog.text
    server.recorder.refusal = None  # someone fixed the mailbox
    assert (await deliver_due(outbox, channel, utc(row["next_attempt_at"]))).delivered == 1


async def test_a_lead_left_by_a_stopped_bot_is_delivered_after_restart(
    database_url: str, server: SmtpServer
) -> None:
    before = create_engine(database_url)
    lead_id = await enqueue(LeadOutbox(before), LEAD, NOW)
    await before.dispose()
    after = create_engine(database_url)
    try:
        report = await deliver_due(LeadOutbox(after), email_to(server.port), NOW + dt.timedelta(minutes=1))
        assert report.delivered == 1
        assert [m["Message-ID"] for m in server.recorder.parsed()] == [f"<{lead_id}@balansebot>"]
    finally:
        await after.dispose()


async def test_a_server_restart_on_the_same_port_loses_nothing(
    outbox: LeadOutbox, server: SmtpServer
) -> None:
    channel = email_to(server.port)
    first = await enqueue(outbox, LEAD, NOW)
    assert (await deliver_due(outbox, channel, NOW)).delivered == 1
    server.stop()
    second = await enqueue(outbox, LEAD, NOW + dt.timedelta(minutes=1))
    assert (await deliver_due(outbox, channel, NOW + dt.timedelta(minutes=1))).retrying == 1
    server.start()
    assert (await deliver_due(outbox, channel, NOW + dt.timedelta(minutes=2))).delivered == 1
    ids = [m["Message-ID"] for m in server.recorder.parsed()]
    assert ids == [f"<{first}@balansebot>", f"<{second}@balansebot>"]


async def row_count(outbox: LeadOutbox) -> int:
    """Every lead stored, delivered or not."""
    table = outbox._table
    async with outbox._engine.connect() as conn:
        return len((await conn.execute(table.select())).all())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_replicas_delivering_at_once_never_send_a_lead_twice(
    database_url: str, server: SmtpServer
) -> None:
    server.recorder.delay = 0.05  # slow enough that the replicas' rounds overlap
    channel = email_to(server.port)
    engines = [create_engine(database_url), create_engine(database_url)]
    try:
        replicas = [LeadOutbox(engine) for engine in engines]
        ids = {await enqueue(replicas[0], LEAD, NOW + dt.timedelta(seconds=n)) for n in range(20)}
        for round_number in range(10):
            now = NOW + dt.timedelta(minutes=1, seconds=round_number)
            await asyncio.gather(*(deliver_due(replica, channel, now, limit=3) for replica in replicas))
            if await replicas[0].depth() == 0:
                break
        sent = [m["Message-ID"] for m in server.recorder.parsed()]
        assert sorted(sent) == sorted(f"<{lead_id}@balansebot>" for lead_id in ids)
    finally:
        for engine in engines:
            await engine.dispose()


async def test_run_forever_survives_a_failed_round_and_stops_when_cancelled(
    outbox: LeadOutbox, server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    await enqueue(outbox, LEAD, NOW)
    calls = 0

    def clock() -> dt.datetime:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("clock broke")
        return NOW

    loop = asyncio.create_task(run_forever(outbox, [email_to(server.port)], 0.01, clock))
    try:
        async with asyncio.timeout(WAIT):
            while not server.recorder.messages:  # noqa: ASYNC110 - the server runs on its own thread
                await asyncio.sleep(0.01)
        assert not loop.done()
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert loop.cancelled()
    assert "lead delivery round failed" in caplog.text
    assert len(server.recorder.messages) == 1


def test_backoff_doubles_from_30_seconds_to_an_hour_with_jitter() -> None:
    rng = random.Random(7)
    for attempts, nominal in [(1, 30), (2, 60), (3, 120), (4, 240), (7, 1920), (8, 3600), (500, 3600)]:
        for _ in range(50):
            wait = backoff(attempts, rng).total_seconds()
            assert nominal * 0.8 <= wait <= min(nominal * 1.2, 3600)
    assert 2880 <= backoff(1, rng, permanent=True).total_seconds() <= 3600
