"""Hostile requests against the real `balansebot serve`: a 4xx or a 200, never a 500, never 503 for good.

A 503 tells Telegram to deliver the update again, for a day; it is only right when a redelivery
can succeed (the database is away, Telegram itself is busy). An update that can never be answered
gets 200 or 400 at the door.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.engine import callbacks
from tests.conftest import run_balansebot
from tests.databases import as_json, query
from tests.support.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.serving import UNPACED, WEBHOOK_PATH, WEBHOOK_SECRET, Served, serving
from tests.telegram.test_leads import smtp_env
from tests.telegram.test_metrics import scrape_until, value

pytestmark = pytest.mark.slow
METRICS_TOKEN = "hostile-tests-metrics-token-0123"
READ_TIMEOUT = 1.0
MARKER = "hemmelig-tekst-9137"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API without Telegram's flood limits (the bot runs UNPACED against it).

    The door is under test, not pacing: at Telegram's one message a second in a chat, hundreds
    of answered updates in one chat would take minutes.
    """
    async with FakeBotApi(flood_limits=None) as server:
        yield server


async def raw_request(served: Served, head: list[bytes], body: bytes = b"", *, within: float = 10) -> bytes:
    """Send a request byte for byte (headers no HTTP client would send); the status line and headers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        lines = [*head, b"Host: 127.0.0.1", b"Content-Length: %d" % len(body)]
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        await writer.drain()
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), within)
    finally:
        writer.close()


def message(user: FakeUser, update_id: int, text: str, **changes: Any) -> dict[str, Any]:
    """A private text message from `user` as Telegram posts it, with `changes` to its message."""
    body = {
        "message_id": update_id,
        "date": 1_700_000_000,
        "chat": {"id": user.id, "type": "private"},
        "from": user.to_dict(),
        "text": text,
    }
    body.update(changes)
    return {"update_id": update_id, "message": {k: v for k, v in body.items() if v is not None}}


def replies(fake: FakeBotApi, user: FakeUser) -> list[object]:
    """The bot's messages sent or edited in the user's chat so far."""
    methods = ("sendMessage", "editMessageText")
    return [op for op in fake.ops if op.chat_id == user.id and op.method in methods]


async def post(session: aiohttp.ClientSession, served: Served, body: bytes) -> int:
    """POST a body to the webhook with the right secret; the status."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET, "Content-Type": "application/json"}
    async with session.post(served.url + WEBHOOK_PATH, data=body, headers=headers) as response:
        return response.status


async def test_hostile_headers_and_bodies_get_4xx_or_200_never_500_or_503(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    kari = fake.add_user("Kari", language_code="nb")
    env = {
        **smtp_env(1),
        **UNPACED,
        "METRICS_TOKEN": METRICS_TOKEN,
        "HTTP_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
        "LOG_LEVEL": "INFO",
    }
    async with serving(fake, tmp_path, webhook=True, **env) as served, aiohttp.ClientSession() as session:
        fake.send_command(kari, "start")
        await fake.wait_for_bot_messages(kari, 1)
        webhook = b"POST " + WEBHOOK_PATH.encode() + b" HTTP/1.1"
        # Secret and bearer headers with bytes that are not UTF-8, or not ASCII.
        for secret in (b"\xff", WEBHOOK_SECRET.encode() + b"\xff", "sécret".encode(), b"\x80" * 40):
            answer = await raw_request(served, [webhook, b"X-Telegram-Bot-Api-Secret-Token: " + secret])
            assert answer.startswith(b"HTTP/1.1 401"), (secret, answer)
        for bearer in (b"Bearer \xff", b"Bearer " + METRICS_TOKEN.encode() + b"\xfe", "Bearer ø".encode()):
            answer = await raw_request(served, [b"GET /metrics HTTP/1.1", b"Authorization: " + bearer])
            assert answer.startswith(b"HTTP/1.1 401"), (bearer, answer)
        samples = await scrape_until(
            served,
            lambda s: value(s, "balansebot_unauthorized_requests_total", endpoint="webhook") == 4,
            authorization=f"Bearer {METRICS_TOKEN}",
        )
        assert value(samples, "balansebot_unauthorized_requests_total", endpoint="metrics") == 3

        # Updates no redelivery could ever answer: answered at the door, not 503 for a day.
        no_chat = message(kari, 11, "hei", chat=None)
        assert await post(session, served, json.dumps(no_chat).encode()) in (200, 400)
        no_chat_command = message(kari, 12, "/start", chat=None)
        no_chat_command["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
        assert await post(session, served, json.dumps(no_chat_command).encode()) in (200, 400)
        for update_id in (2**63, -(2**63) - 1, 10**30):
            assert await post(session, served, json.dumps(message(kari, update_id, "hei")).encode()) == 400
        assert await post(session, served, json.dumps(message(kari, 2**63 - 1, "hei")).encode()) == 200

        # A lone surrogate typed into the interest form (JSON allows it; Telegram never sends one).
        await fake.drain()
        shown = len(fake.bot_messages(kari, include_deleted=True))
        fake.send_command(kari, "merket")
        await fake.wait_for_bot_messages(kari, shown + 1)
        for node in ("merket_soke", "skjema"):
            before = len(replies(fake, kari))
            fake.press_button(kari, fake.bot_messages(kari)[-1], callbacks.goto(node))
            await fake.wait_until(lambda before=before: len(replies(fake, kari)) > before, what=node)
        await fake.drain()
        asked = len(fake.bot_messages(kari, include_deleted=True))
        surrogate = json.dumps(message(kari, 20, "Kultur\ud800huset")).encode()
        assert b"\\ud800" in surrogate
        assert await post(session, served, surrogate) == 200
        await fake.wait_for_bot_messages(kari, asked + 1)  # the form's next question
        [(form,)] = query(served.database_url, "SELECT form FROM chat")
        assert "Kultur\ufffdhuset" in as_json(form).values()

        # Slow clients are not held for good: headers that never end, a body that never comes.
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(webhook + b"\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 10 * READ_TIMEOUT + 5) == b""  # closed by the bot
        assert time.monotonic() - started < 5 + READ_TIMEOUT
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        secret = b"X-Telegram-Bot-Api-Secret-Token: " + WEBHOOK_SECRET.encode()
        writer.write(webhook + b"\r\nHost: 127.0.0.1\r\n" + secret + b"\r\nContent-Length: 100\r\n\r\n{")
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5 + READ_TIMEOUT)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        writer.close()

        # Requests HTTP cannot frame, carrying a whole update: refused, and nothing of them logged.
        update = json.dumps(message(kari, 30, MARKER)).encode()
        host = b"Host: 127.0.0.1"
        for raw in (
            webhook
            + b"\r\n"
            + host
            + b"\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            + update,
            webhook + b"\r\n" + host + b"\r\nX: \x00" + update + b"\r\n\r\n",
            webhook + b"\r\n" + host + b"\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + update + b"\r\n",
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
            writer.write(raw)
            assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.0 400")
            writer.close()
        # Telegram refusing a reply with a description the bot does not know, which quotes text.
        fake.fail_next("sendMessage", 400, f'Bad Request: odd "{MARKER}"\nsecond line')
        fake.send_command(kari, "telefon")
        await fake.wait_for_call("sendMessage", len(fake.ops_for("sendMessage")) + 2)

        statuses = await scrape_until(served, lambda s: True, authorization=f"Bearer {METRICS_TOKEN}")
        assert value(statuses, "balansebot_webhook_responses_total", status="500") == 0
        assert value(statuses, "balansebot_webhook_responses_total", status="503") == 0
    log = served.log_text()
    assert "Traceback" not in log, log
    assert str(kari.id) not in log
    assert MARKER not in log and "second line" not in log
    assert log.count("refused a malformed HTTP request (BadHttpMessage)") == 3
    assert "Telegram refused a reply (400 (description withheld))" in log


async def test_a_long_flood_wait_is_not_waited_out_inside_a_webhook_request(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    """Telegram asks to wait ten minutes: the webhook answers 503 at once, the redelivery is answered."""
    kari = fake.add_user("Kari", language_code="nb")
    fake.webhook_retry_delays = [0.5] * 10
    async with serving(fake, tmp_path, webhook=True) as served:
        fake.rate_limit("sendMessage", retry_after=600)
        started = time.monotonic()
        fake.send_command(kari, "start")
        await fake.wait_for_bot_messages(kari, 1, within=15)
        assert time.monotonic() - started < 10
        samples = await scrape_until(
            served, lambda s: value(s, "balansebot_webhook_responses_total", status="200") >= 1
        )
        assert value(samples, "balansebot_webhook_responses_total", status="503") == 1


def test_a_short_webhook_secret_is_refused_in_one_line(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "BOT_TOKEN": "123456789:AAFakeTokenForOfflineTestsOnly_abcdefgh",
        "DATABASE_URL": f"sqlite:///{tmp_path}/data/x.db",
        "PSEUDONYM_KEY": "k" * 40,
        "WEBHOOK_URL": "https://bot.example.org/hook",
        "WEBHOOK_SECRET": "a" * 31,
    }
    result = run_balansebot("serve", cwd=tmp_path, env=env)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line == "balansebot: WEBHOOK_SECRET må være 32 til 256 tegn blant A-Z, a-z, 0-9, _ og -"
    assert "a" * 31 not in result.stderr


MUTATIONS: dict[str, object] = {
    "missing": ...,
    "null": None,
    "text": "x",
    "negative": -1,
    "2**63": 2**63,
    "huge": 10**30,
    "list": [],
    "object": {},
    "true": True,
    "float": 1.5,
    "lone surrogate": "\ud800",
}


def mutated(update: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The update with each of its fields, at every depth, replaced by each mutation (or removed)."""

    def paths(value: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        if not isinstance(value, dict):
            return [prefix]
        below = [path for key, item in value.items() for path in paths(item, (*prefix, key))]
        return ([prefix] if prefix else []) + below

    variants = []
    for path in paths(update):
        for name, replacement in MUTATIONS.items():
            copy = json.loads(json.dumps(update))
            parent = copy
            for key in path[:-1]:
                parent = parent[key]
            if replacement is ...:
                del parent[path[-1]]
            else:
                parent[path[-1]] = replacement
            variants.append((f"{'.'.join(path)} {name}", copy))
    return variants


async def test_every_field_of_an_update_mutated_gets_200_or_400_never_500_or_503(
    fake: FakeBotApi, tmp_path: Path
) -> None:
    kari = fake.add_user("Kari", language_code="nb")
    async with serving(fake, tmp_path, webhook=True, **UNPACED, LOG_LEVEL="INFO") as served:
        fake.send_command(kari, "start")
        (greeting,) = await fake.wait_for_bot_messages(kari, 1)
        text = message(kari, 1000, "når er telefonen åpen")
        command = message(kari, 1001, "/start")
        command["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
        press = fake.press_button(kari, greeting, callbacks.goto("telefon"))
        await fake.drain()
        statuses: dict[int, list[str]] = {}
        async with aiohttp.ClientSession() as session:
            for number, (label, body) in enumerate(
                [*mutated(text), *mutated(command), *mutated({**press, "update_id": 1002})]
            ):
                if isinstance(body.get("update_id"), int) and 1000 <= body["update_id"] <= 1002:
                    body["update_id"] = 2000 + number  # each a new update, not a redelivery
                status = await post(session, served, json.dumps(body).encode())
                statuses.setdefault(status, []).append(label)
        # Nothing stored from them spoils the chat: Kari is answered as before.
        before = len(fake.bot_messages(kari, include_deleted=True))
        fake.send_command(kari, "telefon")
        answered = await fake.wait_for_bot_messages(kari, before + 1)
        assert "400 38 800" in (answered[-1].text or "")
    print({status: len(labels) for status, labels in sorted(statuses.items())})  # shown with -s
    assert set(statuses) <= {200, 400}, {
        s: labels[:5] for s, labels in statuses.items() if s not in (200, 400)
    }
    assert len(statuses.get(400, [])) > 0 and len(statuses.get(200, [])) > 0
    log = served.log_text()
    assert "Traceback" not in log, log
    assert "handling an update failed" not in log, "no update met a bug"
