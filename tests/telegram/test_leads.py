"""The interest form end to end: chat → outbox → a real SMTP server or staff's Telegram group."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.engine import callbacks
from tests.conftest import DIALOGUES
from tests.databases import database_bytes, query
from tests.support.fake_bot_api import FakeBotApi, FakeUser
from tests.support.smtp import SmtpServer
from tests.telegram.serving import free_port, serving

pytestmark = pytest.mark.slow


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API."""
    async with FakeBotApi() as server:
        yield server


def smtp_env(port: int) -> dict[str, str]:
    """Deliver leads to plain SMTP on loopback, checking often."""
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_STARTTLS": "false",
        "LEADS_EMAIL_FROM": "Balansebot <bot@balansekunst.no>",
        "LEADS_EMAIL_TO": "post@balansekunst.no",
        "DELIVERY_INTERVAL_SECONDS": "0.2",
        "SMTP_TIMEOUT_SECONDS": "3",
    }


async def fill_in_form(fake: FakeBotApi, person: FakeUser, *, send: bool | None = True) -> None:
    """Open the badge page, press the form button, answer every question, and send (or cancel; with
    None, leave the form open at its last question)."""
    fake.send_command(person, "merket")
    await fake.wait_for_bot_messages(person, 1)

    def replies() -> int:
        return len(
            [
                op
                for op in fake.ops
                if op.chat_id == person.id and op.method in ("sendMessage", "editMessageText")
            ]
        )

    async def press(data: str) -> None:
        before = replies()
        fake.press_button(person, fake.bot_messages(person)[-1], data)
        await fake.wait_until(lambda: replies() > before, what="the answer to a button")

    async def say(text: str) -> None:
        before = replies()
        fake.send_text(person, text)
        await fake.wait_until(lambda: replies() > before, what="the answer to a message")

    await press(callbacks.goto("merket_soke"))
    await press(callbacks.goto("skjema"))
    await say("Kulturhuset Ålesund")
    await press(callbacks.form("organising"))
    await say("rundt 25")
    await say("Kari Ærlig")
    await say("kari@kulturhuset.no")
    await press(callbacks.form("skip"))
    await press(callbacks.form("yes"))
    if send is not None:
        await press(callbacks.form("send" if send else "cancel"))


async def wait_for_mail(smtp: SmtpServer, count: int, within: float = 15) -> None:
    """Until the SMTP server has accepted `count` messages."""
    for _ in range(int(within * 10)):
        if len(smtp.recorder.parsed()) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{len(smtp.recorder.parsed())} of {count} e-mails arrived")


async def test_a_lead_reaches_staff_by_email(fake: FakeBotApi, tmp_path: Path) -> None:
    smtp = SmtpServer(free_port())
    smtp.start()
    kari = fake.add_user("Kari")
    try:
        async with serving(fake, tmp_path, webhook=False, **smtp_env(smtp.port)):
            await fill_in_form(fake, kari)
            assert "Takk!" in (fake.bot_messages(kari)[-1].text or "")
            await wait_for_mail(smtp, 1)
    finally:
        smtp.stop()
    (mail,) = smtp.recorder.parsed()
    assert "Kulturhuset Ålesund" in str(mail["Subject"])
    assert mail["Reply-To"] == "kari@kulturhuset.no"
    body = mail.get_body().get_content()  # type: ignore[union-attr]
    assert "Kari Ærlig" in body and "rundt 25" in body


async def test_a_lead_survives_an_smtp_outage_and_a_restart_and_arrives_once(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens yet: the mail server is down
    kari = fake.add_user("Kari")
    async with serving(fake, tmp_path, webhook=True, **smtp_env(port)) as served:
        await fill_in_form(fake, kari)
        await asyncio.sleep(1)  # several delivery rounds fail meanwhile
    url = served.database_url
    assert query(url, "SELECT count(*) FROM lead_outbox WHERE delivered_at IS NULL") == [(1,)]
    [(attempts, retry_at)] = query(url, "SELECT attempts, next_attempt_at FROM lead_outbox")
    assert attempts >= 1 and retry_at is not None
    # The backoff (30 s after the first failure) passes while the bot is down: the row says when.
    query(url, "UPDATE lead_outbox SET next_attempt_at = :due", due=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    smtp = SmtpServer(port)
    smtp.start()
    try:
        async with serving(fake, tmp_path, webhook=True, **smtp_env(port)):
            await wait_for_mail(smtp, 1, within=30)
            await asyncio.sleep(1)
    finally:
        smtp.stop()
    assert len(smtp.recorder.parsed()) == 1
    assert query(url, "SELECT count(*) FROM lead_outbox WHERE delivered_at IS NULL") == [(0,)]


async def test_a_cancelled_form_leaves_nothing_in_the_database(fake: FakeBotApi, tmp_path: Path) -> None:
    port = free_port()
    ola = fake.add_user("Ola")
    async with serving(fake, tmp_path, webhook=False, **smtp_env(port)) as served:
        await fill_in_form(fake, ola, send=False)
        assert "Ingenting ble lagret eller sendt" in (fake.bot_messages(ola)[-1].text or "")
    assert query(served.database_url, "SELECT count(*) FROM lead_outbox") == [(0,)]
    assert query(served.database_url, "SELECT count(*) FROM chat WHERE form IS NOT NULL") == [(0,)]
    content = database_bytes(served.database_url)
    for answer in ("Kulturhuset Ålesund", "Kari Ærlig", "kari@kulturhuset.no", "rundt 25"):
        assert answer.encode() not in content, answer


async def test_one_chat_sends_at_most_the_days_forms_even_after_a_restart(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    dialogues = tmp_path / "dialogues"
    shutil.copytree(DIALOGUES, dialogues)
    facts = dialogues / "facts.yaml"
    facts.write_text(facts.read_text().replace("  forms_per_day: 3 ", "  forms_per_day: 1 "))
    smtp = SmtpServer(free_port())
    smtp.start()
    kari = fake.add_user("Kari")
    env = {**smtp_env(smtp.port), "DIALOGUES_DIR": str(dialogues)}
    try:
        async with serving(fake, tmp_path / "run", webhook=False, **env) as served:
            await fill_in_form(fake, kari)
            await wait_for_mail(smtp, 1)
        (stored,) = query(served.database_url, "SELECT forms_sent FROM chat")
        assert stored[0] is not None and "count" in str(stored[0]), "a day and a count, nothing more"
        async with serving(fake, tmp_path / "run", webhook=False, **env):
            shown = len(fake.bot_messages(kari))
            fake.send_command(kari, "merket")
            await fake.wait_until(lambda: len(fake.bot_messages(kari)) > shown, what="the badge page")
            for data in (callbacks.goto("merket_soke"), callbacks.goto("skjema")):
                answered = len(fake.ops)
                fake.press_button(kari, fake.bot_messages(kari)[-1], data)
                await fake.wait_until(
                    lambda since=answered: any(op.method == "editMessageText" for op in fake.ops[since:]),
                    what="the answer to a button",
                )
            refused = fake.bot_messages(kari)[-1].text or ""
    finally:
        smtp.stop()
    assert "allerede sendt 1 interesseskjema i dag" in refused
    assert "1/6" not in refused, "no new form"
    assert len(smtp.recorder.parsed()) == 1


async def test_without_smtp_the_form_is_not_offered(fake: FakeBotApi, tmp_path: Path) -> None:
    kari = fake.add_user("Kari")
    async with serving(fake, tmp_path, webhook=False):
        fake.send_command(kari, "merket")
        (page,) = await fake.wait_for_bot_messages(kari, 1)
        fake.press_button(kari, page, callbacks.goto("merket_soke"))
        await fake.wait_for_call("editMessageText")
    shown = fake.bot_messages(kari)[-1]
    assert callbacks.goto("skjema") not in shown.callback_datas
    assert "hei@balansekunstprosjektet.no" in (shown.text or "")


async def test_with_only_a_staff_chat_the_form_is_offered_and_the_lead_arrives_there(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    staff = fake.add_group("Balansekunst – henvendelser")
    admin = fake.add_user("Siri")
    kari = fake.add_user("Kari")
    # Staff (re-)add the bot to their group: it must stay there, unlike in any other group.
    fake.set_bot_status(staff, "left", by=admin)
    fake.set_bot_status(staff, "member", by=admin)
    env = {"STAFF_CHAT_ID": str(staff.id), "DELIVERY_INTERVAL_SECONDS": "0.2"}
    async with serving(fake, tmp_path, webhook=False, **env) as served:
        await fill_in_form(fake, kari)  # the form is offered without SMTP: fill_in_form presses it
        assert "Takk!" in (fake.bot_messages(kari)[-1].text or "")
        [lead] = await fake.wait_for_bot_messages(staff, 1, within=15)
        # A staff member answers the lead in the group; that is no conversation with the bot.
        fake.send_text(admin, "Jeg ringer dem i morgen.", chat=staff, reply_to=lead)
        await fake.drain()
        await asyncio.sleep(0.5)  # time for any (wrong) answer to the reply
    lines = (lead.text or "").splitlines()
    for line in (
        "Organisasjon: Kulturhuset Ålesund",
        "Type aktør: arrangør",
        "Omtrent antall personer: rundt 25",
        "Kontaktperson: Kari Ærlig",
        "Kontakt: kari@kulturhuset.no",
        "Melding: (ingen)",
    ):
        assert line in lines
    assert len(fake.bot_messages(staff)) == 1
    assert fake.ops_for("leaveChat") == []
    assert query(served.database_url, "SELECT channel, delivered_at IS NOT NULL FROM lead_outbox") == [
        ("telegram", True)
    ]
    # Sending the lead to the group logged none of it, even at DEBUG (libraries that quote SQL
    # parameters are held back by bot/logs.py).
    log = served.log_text()
    for answer in ("Kulturhuset Ålesund", "Kari Ærlig", "kari@kulturhuset.no", "rundt 25"):
        assert answer not in log, answer
