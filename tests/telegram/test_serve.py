"""`balansebot serve` end to end: a real process, real HTTP, the offline Bot API, a real database."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import psycopg
import pytest

from bot.engine import callbacks
from bot.engine.form import InterestForm
from bot.storage import migrate
from tests.conftest import ROOT, run_balansebot
from tests.databases import as_json, database_bytes, fresh_postgres, insert_rows, query, serve_database_url
from tests.support.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.serving import PSEUDONYM_KEY, WEBHOOK_PATH, WEBHOOK_SECRET, Served, serving

pytestmark = pytest.mark.slow
TYPED = "når er telefonen åpen egentlig, lurer jeg på"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API."""
    async with FakeBotApi() as server:
        yield server


def texts(fake: FakeBotApi, user: FakeUser) -> list[str]:
    """The bot's messages to a user as they stand now (after edits)."""
    return [m.text or "" for m in fake.bot_messages(user)]


async def walk_main_paths(fake: FakeBotApi, kari: FakeUser) -> None:
    """/start, a menu button (edited in place), a typed question, a sticker, an edited message."""
    fake.send_command(kari, "start")
    (greeting,) = await fake.wait_for_bot_messages(kari, 1)
    assert "anonym" in (greeting.text or "")
    assert callbacks.goto("telefon") in greeting.callback_datas

    fake.press_button(kari, greeting, callbacks.goto("telefon"))
    await fake.wait_for_call("editMessageText")
    await fake.wait_for_call("answerCallbackQuery")
    assert "400 38 800" in (fake.bot_messages(kari)[0].text or ""), "the menu message became the answer"

    for command, expected in (
        ("merket", "Balansemerket"),
        ("personvern", "ende-til-ende"),
        ("hjelp", "/slett"),
    ):
        before = len(fake.bot_messages(kari, include_deleted=True))
        fake.send_command(kari, command)
        messages = await fake.wait_for_bot_messages(kari, before + 1)
        assert expected in (messages[-1].text or ""), command

    count = len(fake.bot_messages(kari, include_deleted=True))
    fake.send_text(kari, TYPED)
    messages = await fake.wait_for_bot_messages(kari, count + 1)
    assert "400 38 800" in (messages[-1].text or "")

    fake.send_sticker(kari)
    messages = await fake.wait_for_bot_messages(kari, count + 2)
    assert "bare lese tekstmeldinger" in (messages[-1].text or "")

    user_message = next(m for m in fake.messages(kari) if m.sender == "user" and m.text == TYPED)
    fake.edit_text(kari, user_message, "endret")
    messages = await fake.wait_for_bot_messages(kari, count + 3)
    assert "bare nye meldinger" in (messages[-1].text or "")


def assert_nothing_personal(served: Served, kari: FakeUser) -> None:
    """Neither the database (with SQLite's WAL) nor the logs hold the chat id, the name or typed text."""
    traces = {"log": served.log.read_bytes(), "database": database_bytes(served.database_url)}
    for where, content in traces.items():
        for secret in (str(kari.id), kari.first_name, kari.username or "kari_test", TYPED, "endret"):
            assert secret.encode() not in content, f"{secret!r} found in {where}"


async def test_polling_conversation_commands_and_privacy(fake: FakeBotApi, tmp_path: Path) -> None:
    kari = fake.add_user("Kari", username="kari_test")
    async with serving(fake, tmp_path, webhook=False) as served:
        await walk_main_paths(fake, kari)
        commands = {c["command"]: c["description"] for c in fake.get_commands(language_code="nb")}
        assert set(commands) == {
            "start",
            "meny",
            "telefon",
            "merket",
            "hjelp",
            "personvern",
            "slett",
            "avbryt",
            "sprak",
        }
        assert commands["slett"].startswith("Slett")
        assert fake.webhook is None or not fake.webhook.url
    assert_nothing_personal(served, kari)
    [(node, lang, messages)] = query(served.database_url, "SELECT node, lang, messages FROM chat")
    assert (node, lang) == ("meny", "nb")
    assert len(as_json(messages)) > 5, "message ids are kept for /slett"


async def test_slett_deletes_stored_state_and_messages(fake: FakeBotApi, tmp_path: Path) -> None:
    kari = fake.add_user("Kari")
    async with serving(fake, tmp_path, webhook=False) as served:
        fake.send_command(kari, "start")
        await fake.wait_for_bot_messages(kari, 1)
        fake.send_text(kari, "hva er balansemerket")
        await fake.wait_for_bot_messages(kari, 2)
        fake.send_command(kari, "slett")
        messages = await fake.wait_for_bot_messages(kari, 3)
        await fake.wait_for_call("deleteMessages")
        assert "slettet" in (messages[-1].text or "")
        assert query(served.database_url, "SELECT count(*) FROM chat") == [(0,)]
        left = [m for m in fake.messages(kari) if not m.deleted]
        assert [m.text for m in left] == [messages[-1].text], "only the confirmation is left"


async def test_restart_mid_dialogue_loses_nothing(fake: FakeBotApi, tmp_path: Path) -> None:
    kari = fake.add_user("Kari")
    async with serving(fake, tmp_path, webhook=False):
        fake.send_command(kari, "merket")
        (badge,) = await fake.wait_for_bot_messages(kari, 1)
    async with serving(fake, tmp_path, webhook=False) as served:
        fake.press_button(kari, badge, callbacks.goto("merket_steg"))
        await fake.wait_for_call("editMessageText")
        # The edit in place proves the new process knew which message was the bot's latest.
        assert "Kurs" in (fake.bot_messages(kari)[0].text or "")
        assert len(fake.bot_messages(kari, include_deleted=True)) == 1
    assert "Traceback" not in served.log_text()


async def test_webhook_conversation_and_hardening(fake: FakeBotApi, tmp_path: Path) -> None:
    kari = fake.add_user("Kari")
    async with serving(fake, tmp_path, webhook=True) as served:
        assert fake.webhook is not None and fake.webhook.url.endswith(WEBHOOK_PATH)
        await walk_main_paths(fake, kari)
        sent_before = len(fake.ops_for("sendMessage"))
        update = {
            "update_id": 10**6,
            "message": {
                "message_id": 99,
                "date": 1,
                "chat": {"id": kari.id, "type": "private"},
                "from": kari.to_dict(),
                "text": "/start",
            },
        }
        url = served.url + WEBHOOK_PATH
        async with aiohttp.ClientSession() as session:

            async def post(body: bytes, secret: str | None = WEBHOOK_SECRET) -> int:
                headers = {"Content-Type": "application/json"}
                if secret is not None:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = secret
                async with session.post(url, data=body, headers=headers) as response:
                    return response.status

            good = json.dumps(update).encode()
            assert await post(good, secret=None) == 401
            assert await post(good, secret="wrong") == 401
            assert await post(good, secret=WEBHOOK_SECRET + "x") == 401
            assert await post(b"{not json") == 400
            assert await post(b"\xff\xfe") == 400
            assert await post(b"[1, 2, 3]") == 400
            assert await post(b'{"update_id": "x"}') == 400
            assert await post(b'{"update_id": 5, "message": {"chat": 7}}') == 400
            assert await post(b"{" + b'"a": "' + b"x" * 400_000 + b'"}') == 413
            assert len(fake.ops_for("sendMessage")) == sent_before, "nothing rejected was processed"
            async with session.get(served.url + "/healthz") as response:
                assert response.status == 200
                assert (await response.json())["status"] == "ok"
            assert await post(good) == 200
        assert len(fake.ops_for("sendMessage")) == sent_before + 1
    assert_nothing_personal(served, kari)


async def test_groups_and_channels_are_left_politely(fake: FakeBotApi, tmp_path: Path) -> None:
    kari = fake.add_user("Kari")
    group = fake.add_group("Korøvelse")
    async with serving(fake, tmp_path, webhook=False):
        fake.set_bot_status(group, "member", by=kari)
        await fake.wait_for_call("leaveChat")
        channel = fake.add_channel("Nyheter")
        fake.post_to_channel(channel, "hei")
        fake.send_command(kari, "start")
        await fake.wait_for_bot_messages(kari, 1)
    assert fake.bot_messages(channel) == []


def test_missing_token_is_one_clear_line(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    result = run_balansebot("serve", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "balansebot: BOT_TOKEN er ikke satt (tokenet fra @BotFather)"
    ]
    bad = run_balansebot("serve", cwd=tmp_path, env={**env, "BOT_TOKEN": "nope"})
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "nope" not in bad.stderr
    assert "BOT_TOKEN ser ikke ut som et bot-token fra @BotFather" in bad.stderr
    english = run_balansebot("serve", cwd=tmp_path, env={**env, "LANG": "en_GB.UTF-8"})
    assert english.stderr.strip().splitlines() == [
        "balansebot: BOT_TOKEN is not set (the token from @BotFather)"
    ]


@pytest.mark.parametrize(
    "url",
    ["http://bot.example.no/telegram", "https://bot.example.no:8080/telegram", "https://bot.example.no:22/x"],
)
def test_a_webhook_telegram_cannot_deliver_to_is_one_clear_line(tmp_path: Path, url: str) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "BOT_TOKEN": "123456789:" + "a" * 35,
        "WEBHOOK_URL": url,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PSEUDONYM_KEY": PSEUDONYM_KEY,
    }
    result = run_balansebot("serve", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "balansebot: WEBHOOK_URL må være https:// på port 443, 80, 88 eller 8443: "
        "Telegram leverer ikke noe annet sted"
    ]


def test_without_a_key_apart_from_the_data_serve_refuses_in_one_line(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "BOT_TOKEN": "123456789:AAFakeTokenForOfflineTestsOnly_abcdefgh",
        "DATABASE_URL": f"sqlite:///{tmp_path}/data/x.db",
    }
    result = run_balansebot("serve", cwd=tmp_path, env=env)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("balansebot: PSEUDONYM_KEY eller PSEUDONYM_KEY_FILE må være satt: nøkkelen"), line
    assert list(tmp_path.rglob("*key*")) == [], "no key is made up beside the data"


def test_broken_scripts_refuse_to_start(tmp_path: Path) -> None:
    dialogues = tmp_path / "dialogues"
    shutil.copytree(ROOT / "dialogues", dialogues)
    (dialogues / "nb" / "om.yaml").write_text(
        "topic: om\nnodes:\n  - id: om\n    title: Om\n    text: <br>\n", encoding="utf-8"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "BOT_TOKEN": "123456789:AAFakeTokenForOfflineTestsOnly_abcdefgh",
        "DIALOGUES_DIR": str(dialogues),
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "PSEUDONYM_KEY": PSEUDONYM_KEY,
    }
    result = run_balansebot("serve", cwd=ROOT, env=env)
    assert result.returncode == 1
    assert "dialogues/nb/om.yaml:5: feil: Telegram støtter ikke taggen <br>" in result.stderr


async def test_sigterm_stops_cleanly(fake: FakeBotApi, tmp_path: Path) -> None:
    async with serving(fake, tmp_path, webhook=True) as served:
        pass
    assert served.process.returncode == 0
    assert "stopping: finishing updates in flight" in served.log_text()


async def test_language_follows_telegram_and_commands_are_registered_per_language(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    john = fake.add_user("John", language_code="en-GB")
    ola = fake.add_user("Ola", language_code="nn")
    async with serving(fake, tmp_path, webhook=False):
        fake.send_command(john, "telefon")
        fake.send_command(ola, "telefon")
        (english,) = await fake.wait_for_bot_messages(john, 1)
        (nynorsk,) = await fake.wait_for_bot_messages(ola, 1)
        descriptions = {
            code: {c["command"]: c["description"] for c in fake.get_commands(language_code=code)}
            for code in ("", "nb", "no", "nn")
        }
    assert english.text != nynorsk.text
    assert "400 38 800" in (english.text or "") and "400 38 800" in (nynorsk.text or "")
    assert descriptions[""]["slett"].startswith("Delete")
    assert descriptions["nb"]["sprak"] == descriptions["no"]["sprak"] == "Bytt språk"
    assert descriptions["nn"]["sprak"] == "Byt språk"


async def test_flood_limits_and_server_errors_delay_replies_but_lose_none(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    kari = fake.add_user("Kari")
    async with serving(fake, tmp_path, webhook=True) as served:
        fake.rate_limit("sendMessage", retry_after=1)
        fake.send_command(kari, "telefon")
        (reply,) = await fake.wait_for_bot_messages(kari, 1, within=10)
        assert "400 38 800" in (reply.text or "")
        attempts = [op for op in fake.ops_for("sendMessage") if op.chat_id == kari.id]
        assert [op.error_code for op in attempts] == [429, None], "waited retry_after, then sent once"
        assert attempts[1].at - attempts[0].at >= 1.0

        fake.server_error("sendMessage", 502)
        fake.send_command(kari, "merket")
        messages = await fake.wait_for_bot_messages(kari, 2, within=10)
        assert "Balansemerket" in (messages[-1].text or "")
        assert len(messages) == 2, "exactly one reply"
    assert "Traceback" not in served.log_text() or "RetryAfter" not in served.log_text()


async def test_a_button_on_an_old_message_still_works(fake: FakeBotApi, tmp_path: Path) -> None:
    kari = fake.add_user("Kari")
    async with serving(fake, tmp_path, webhook=False):
        fake.send_command(kari, "start")
        (greeting,) = await fake.wait_for_bot_messages(kari, 1)
        fake.send_command(kari, "hjelp")
        await fake.wait_for_bot_messages(kari, 2)
        fake.press_button(kari, greeting, callbacks.goto("om"))
        messages = await fake.wait_for_bot_messages(kari, 3)
        await fake.wait_for_call("answerCallbackQuery")
    assert "2009" in (messages[-1].text or ""), "the answer comes as a new message"
    assert fake.bot_messages(kari)[0].text == greeting.text, "the old message is left as it was"


@pytest.mark.own_database  # PostgreSQL always
async def test_serve_on_postgresql(fake: FakeBotApi, tmp_path: Path) -> None:
    kari = fake.add_user("Kari")
    with fresh_postgres() as url:
        env = {"DATABASE_URL": url, "PSEUDONYM_KEY": "k" * 40}
        async with serving(fake, tmp_path, webhook=True, **env):
            fake.send_command(kari, "merket")
            (badge,) = await fake.wait_for_bot_messages(kari, 1)
        async with serving(fake, tmp_path, webhook=True, **env):
            fake.press_button(kari, badge, callbacks.goto("merket_steg"))
            await fake.wait_for_call("editMessageText")
        with psycopg.connect(url) as db:
            rows = db.execute("SELECT key, node FROM chat").fetchall()
    assert [node for _, node in rows] == ["merket_steg"]
    assert str(kari.id) not in rows[0][0]


FORM = InterestForm(answers=(("organisation", "Glemt Teater"),)).to_json()


async def test_expiry_runs_by_itself(fake: FakeBotApi, tmp_path: Path) -> None:
    from tests.telegram.test_metrics import scrape_until, value  # here: test_metrics imports this module

    database_url = serve_database_url(tmp_path)
    migrate.upgrade(database_url)
    now = dt.datetime.now(dt.UTC)
    ages = {
        "a": dt.timedelta(days=31),  # unused for 30 days: deleted
        "b": dt.timedelta(hours=50),  # message ids too old to delete
        "c": dt.timedelta(0),  # fresh: kept as it is
        "d": dt.timedelta(hours=7),  # a form left unfinished for longer than 6 hours: emptied
    }
    insert_rows(
        database_url,
        "chat",
        [
            {
                "key": letter * 64,
                "node": "telefon",
                "lang": "nb",
                "messages": [[7, int((now - age).timestamp())]],
                "last_bot_message_id": 7,
                "newest_message_at": now - age,
                "updated_at": now - age,
                "form": FORM if letter in "cd" else None,
            }
            for letter, age in ages.items()
        ],
    )
    # Leads, with no lead channel configured at all: a delivered one past its record's time, one
    # for a channel since removed (two days waiting: an alarm), one a week and a day old: deleted.
    lead_ages = {
        "delivered": dt.timedelta(days=31),
        "waiting": dt.timedelta(days=2),
        "lost": dt.timedelta(days=8),
    }
    insert_rows(
        database_url,
        "lead_outbox",
        [
            {
                "id": f"{name:0<36}",
                "channel": "email",
                "organisation": f"Teater {name}",
                "actor_kind": "organising",
                "size": "10",
                "contact_person": "Ola",
                "contact": "ola@example.org",
                "lang": "nb",
                "created_at": now - age,
                "next_attempt_at": now - age,
                "delivered_at": now - age if name == "delivered" else None,
            }
            for name, age in lead_ages.items()
        ],
    )
    async with serving(fake, tmp_path, webhook=False, EXPIRY_INTERVAL_SECONDS="0.2") as served:
        for _ in range(100):
            left = query(database_url, "SELECT key, messages, form FROM chat ORDER BY key")
            if [key for key, *_ in left] == ["b" * 64, "c" * 64, "d" * 64] and as_json(left[0][1]) == []:
                break
            await asyncio.sleep(0.1)
        samples = await scrape_until(
            served, lambda s: value(s, "balansebot_leads_overdue", channel="email") == 1
        )
    assert [key[0] for key, *_ in left] == ["b", "c", "d"]
    assert as_json(left[0][1]) == [] and as_json(left[1][1]) != []
    assert [as_json(form) for *_, form in left[1:]] == [FORM, None]
    assert "expired 1 chats, 1 message lists and 1 unfinished forms" in served.log_text()
    assert query(database_url, "SELECT organisation FROM lead_outbox") == [("Teater waiting",)]
    assert value(samples, "balansebot_leads_deleted_undelivered_total") == 1
    assert "1 lead(s) for email not delivered after 24 hours" in served.log_text()
