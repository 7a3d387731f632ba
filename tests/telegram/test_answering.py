"""Answerer.handle: one Update in, its answer out or an exception, counted and timed (on real parts)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError

from bot.engine import callbacks
from bot.engine.engine import Engine
from bot.i18n import Catalogs
from bot.storage import migrate
from bot.storage.database import create_engine
from bot.storage.grouped_turns import chat_turns
from bot.storage.pseudonym import Pseudonymizer
from bot.storage.store import SqlChatStore
from bot.telegram.answering import Answerer
from bot.telegram.conversations import Conversations
from bot.telegram.metrics import BotMetrics
from bot.telegram.outbound import BotApiConfig, Pacing, bot_api
from tests.support.fake_bot_api import FakeBotApi


@dataclass
class Answering:
    """A real Answerer on SQLite and the offline Bot API, and what it counted."""

    fake: FakeBotApi
    answerer: Answerer
    metrics: BotMetrics
    bot: Any

    async def handle(self, data: dict[str, Any]) -> None:
        """Answer the update Telegram would send, as its JSON is read by the webhook or the Updater."""
        update = Update.de_json(data, self.bot)
        assert update is not None
        await self.answerer.handle(update)

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def answering(tmp_path: Path, engine: Engine, catalogs: Catalogs) -> AsyncIterator[Answering]:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrate.upgrade(url)
    database = create_engine(url)
    store = SqlChatStore(database)
    metrics = BotMetrics(process_metrics=False)
    conversations = Conversations(
        lambda: engine,
        chat_turns(store, database),
        Pseudonymizer(b"k" * 32),
        clock=lambda: dt.datetime.now(dt.UTC),
    )
    async with FakeBotApi() as fake:
        config = BotApiConfig(fake.token, fake.base_url, 1.0, 8, Pacing(first_backoff=0.01))
        async with bot_api(config, metrics) as bot:
            answerer = Answerer(bot, conversations, None, catalogs, metrics, staff_chat_id=None)
            yield Answering(fake, answerer, metrics, bot)
    await store.close()


async def test_a_command_is_answered_counted_and_timed(answering: Answering) -> None:
    kari = answering.fake.add_user("Kari", language_code="nb")
    await answering.handle(answering.fake.send_command(kari, "telefon"))
    [reply] = answering.fake.bot_messages(kari)
    assert "400 38 800" in (reply.text or "")
    assert answering.sample("balansebot_updates_total", kind="command") == 1
    assert answering.sample("balansebot_update_handling_seconds_count") == 1
    # Nothing tells what a person was shown: no series is labelled with a node.
    labels = [s.labels for m in answering.metrics.registry.collect() for s in m.samples]
    assert labels and not [found for found in labels if "node" in found]


async def test_a_button_in_a_private_chat_edits_the_pressed_message(answering: Answering) -> None:
    fake = answering.fake
    kari = fake.add_user("Kari", language_code="nb")
    await answering.handle(fake.send_command(kari, "start"))
    [menu] = fake.bot_messages(kari)
    data = sorted(menu.callback_datas)[0]
    await answering.handle(fake.press_button(kari, menu, data))
    assert fake.ops_for("answerCallbackQuery"), "the spinner stopped"
    assert fake.ops_for("editMessageText") or len(fake.bot_messages(kari)) > 1


async def test_a_message_in_a_group_gets_why_the_bot_leaves_and_no_dialogue(answering: Answering) -> None:
    fake = answering.fake
    kari = fake.add_user("Kari")
    group = fake.add_group("Korpset")
    await answering.handle(fake.send_command(kari, "start", chat=group))
    [why] = fake.bot_messages(group)
    assert "private" in (why.text or "") or "privat" in (why.text or "")
    assert [op.chat_id for op in fake.ops_for("leaveChat")] == [group.id]
    assert answering.sample("balansebot_updates_total", kind="group") == 1


async def test_a_button_pressed_in_a_group_gets_no_dialogue_answer(answering: Answering) -> None:
    fake = answering.fake
    kari = fake.add_user("Kari")
    group = fake.add_group("Korpset")
    # A message with a button to a real node, left in the group (from before the bot left it, say).
    telefon = callbacks.goto("telefon")
    sent = await answering.bot.send_message(
        group.id,
        "Meny",
        reply_markup={"inline_keyboard": [[{"text": "Telefon", "callback_data": telefon}]]},
    )
    await answering.handle(fake.press_button(kari, sent.message_id, telefon, chat=group))
    texts = [m.text or "" for m in fake.bot_messages(group)]
    assert not any("400 38 800" in text for text in texts), "no dialogue in a group"
    assert fake.ops_for("editMessageText") == [], "the pressed message is not turned into a dialogue step"
    assert [op.chat_id for op in fake.ops_for("leaveChat")] == [group.id]
    assert answering.sample("balansebot_updates_total", kind="group") == 1


async def test_being_added_to_a_group_leaves_it_at_once(answering: Answering) -> None:
    fake = answering.fake
    kari = fake.add_user("Kari")
    group = fake.add_group("Korpset")
    await answering.handle(fake.set_bot_status(group, "member", by=kari))
    assert [op.chat_id for op in fake.ops_for("leaveChat")] == [group.id]
    assert fake.bot_messages(group) == []


@pytest.mark.parametrize(
    ("status", "description", "error", "redeliver"),
    [
        (403, "Forbidden: bot was blocked by the user", Forbidden, False),
        (400, "Bad Request: chat not found", BadRequest, False),
        (502, "Bad Gateway", NetworkError, True),
    ],
)
async def test_a_failure_is_raised_and_judged_for_the_webhook(
    answering: Answering, status: int, description: str, error: type[Exception], redeliver: bool
) -> None:
    fake = answering.fake
    kari = fake.add_user("Kari")
    if status >= 500:
        fake.server_error("sendMessage", status, count=10)
    else:
        fake.fail_next("sendMessage", status, description, count=2)  # the reply, then as plain text
    with pytest.raises(error) as raised:
        await answering.handle(fake.send_command(kari, "telefon"))
    assert answering.answerer.failed(raised.value) is redeliver, "a refusal for good is acknowledged"
    assert answering.sample("balansebot_update_errors_total") == 1
    assert answering.sample("balansebot_update_handling_seconds_count") == 1, "a failed update is timed too"


async def test_a_redelivered_update_is_answered_once(answering: Answering) -> None:
    fake = answering.fake
    kari = fake.add_user("Kari")
    data = fake.send_command(kari, "telefon")
    await answering.handle(data)
    await answering.handle(data)
    assert len(fake.bot_messages(kari)) == 1
