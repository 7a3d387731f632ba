"""Bad bodies against the real `balansebot serve` (webhook mode, offline Bot API): 400/413, never 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fuzz.test_properties_webhook import reply_chain
from tests.support.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.serving import WEBHOOK_PATH, WEBHOOK_SECRET, serving

pytestmark = pytest.mark.slow
LIMIT = 262_144  # WEBHOOK_MAX_BODY_BYTES's default


def message_update(user: FakeUser, update_id: int, text: str) -> dict[str, Any]:
    """A private text message from `user`, as Telegram posts it."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": user.id, "type": "private"},
            "from": user.to_dict(),
            "text": text,
            **({"entities": [{"type": "bot_command", "offset": 0, "length": 2}]} if text[:1] == "/" else {}),
        },
    }


async def chunks(total: int, size: int = 65_536) -> AsyncIterator[bytes]:
    """A body sent without Content-Length (chunked), so only reading it can tell its size."""
    yield b'{"update_id": 1, "x": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


async def test_bad_bodies_get_400_or_413_and_odd_text_gets_valid_replies(tmp_path: Path) -> None:
    async with FakeBotApi() as fake:
        kari = fake.add_user("Kari")
        async with serving(fake, tmp_path, webhook=True) as served, aiohttp.ClientSession() as session:
            fake.send_command(kari, "start")
            await fake.wait_for_bot_messages(kari, 1)
            url = served.url + WEBHOOK_PATH
            headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET, "Content-Type": "application/json"}

            async def post(body: bytes | AsyncIterator[bytes]) -> int:
                async with session.post(url, data=body, headers=headers) as response:
                    return response.status

            far_future = message_update(kari, 50, "hei")
            far_future["message"]["date"] = 10**20
            bad = {
                "100k nested arrays": (b"[" * 100_000 + b"]" * 100_000, 400),
                "a reply chain 900 deep": (reply_chain(900), 400),
                "a date past year 9999": (json.dumps(far_future).encode(), 400),
                "invalid UTF-8": (b'{"update_id": 1, "message": "\xff\xfe"}', 400),
                "a 5000-digit update_id": (b'{"update_id": ' + b"9" * 5000 + b"}", 400),
                "over the limit": (b" " * (LIMIT + 1), 413),
            }
            sent_before = len(fake.ops_for("sendMessage"))
            for label, (body, status) in bad.items():
                assert await post(body) == status, label
            assert await post(chunks(LIMIT + 100_000)) == 413, "a chunked body over the limit"
            assert len(fake.ops_for("sendMessage")) == sent_before, "a rejected body was answered"

            # Odd but real text: the replies must pass the offline Bot API's strict HTML and length checks.
            odd = [
                "/x<b>&amp;",
                "/" + "a" * 4000,
                "<script>alert(1)</script> &lt; \u202eslått\u202c",
                ("👩‍👩‍👧‍👦 trakassering \u200f" * 300)[:4096],
                "a\x00b\x07",
                "a\ud800b",  # JSON allows a lone surrogate; Telegram never sends one
            ]
            for index, text in enumerate(odd, start=100):
                body = json.dumps(message_update(kari, index, text)).encode()
                assert await post(body) == 200, text[:40]
            assert len(fake.ops_for("sendMessage")) == sent_before + len(odd), "every odd text was answered"
            async with session.get(served.url + "/healthz") as response:
                assert response.status == 200
        assert "Traceback" not in served.log_text()
