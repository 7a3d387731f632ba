"""Leave no trace: the quick exit and the auto-delete the reader chooses, against the offline Bot API.

The quick exit deletes exactly the conversation's messages Telegram still lets the bot delete (not
older ones, not another chat's), at most 100 a call, and leaves one neutral message, also when flood
control holds the chat back. An auto-delete set to a short test interval (the scripts' `auto_delete:`
values, changed in a copy) fires once, after a restart in between, on SQLite and on PostgreSQL with
two replicas, and nothing of the choice is left after it ran. Neither test is marked slow: each runs
on its own database whatever TEST_SERVE_DATABASE says, so the slow re-run would only repeat them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from bot.engine import callbacks
from bot.storage.pseudonym import Pseudonymizer
from tests.databases import fresh_postgres, query
from tests.support.balancer import Balancer
from tests.support.fake_bot_api import FakeBotApi, FakeUser, Op, StoredMessage
from tests.telegram.serving import PSEUDONYM_KEY, UNPACED, WEBHOOK_PATH, Served, serving

NEUTRAL = "Skriv /start for å begynne."
AUTO_DELETE_SECONDS = 4  # long enough to stop the bot before it comes, short enough for CI
FAST_JOB = {"AUTO_DELETE_INTERVAL_SECONDS": "0.2"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API, without Telegram's pacing (the test sends a hundred messages)."""
    async with FakeBotApi(flood_limits=None) as server:
        yield server


@pytest.fixture
def dialogues(dialogues_copy: Path) -> Path:
    """The shipped scripts, with "Om én time" deleting after a few seconds instead."""
    path = dialogues_copy / "nb" / "personvern.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("auto_delete: 1h") == 1
    path.write_text(text.replace("auto_delete: 1h", f"auto_delete: {AUTO_DELETE_SECONDS}s"), encoding="utf-8")
    return dialogues_copy


def deletes(fake: FakeBotApi, user: FakeUser) -> list[Op]:
    """The deleteMessages calls about `user`'s chat."""
    return [op for op in fake.ops_for("deleteMessages") if op.chat_id == user.id]


def deleted_ids(fake: FakeBotApi, user: FakeUser) -> set[int]:
    """Every message id the bot asked Telegram (successfully) to delete in `user`'s chat."""
    return {i for op in deletes(fake, user) if op.ok for i in json.loads(op.params["message_ids"])}


def alive(fake: FakeBotApi, user: FakeUser) -> list[StoredMessage]:
    """The messages still in the chat."""
    return [m for m in fake.messages(user) if not m.deleted]


async def talk(fake: FakeBotApi, user: FakeUser, turns: int) -> None:
    """`turns` questions, each answered before the next."""
    for turn in range(turns):
        count = len(fake.bot_messages(user, include_deleted=True))
        fake.send_text(user, f"når er telefonen åpen {turn}")
        await fake.wait_for_bot_messages(user, count + 1)


async def choose_auto_delete(fake: FakeBotApi, user: FakeUser) -> None:
    """/personvern → "Slett samtalen automatisk" → "Om én time" (a few seconds here)."""
    count = len(fake.bot_messages(user, include_deleted=True))
    fake.send_command(user, "personvern")
    (privacy,) = (await fake.wait_for_bot_messages(user, count + 1))[count:]
    fake.press_button(user, privacy, callbacks.goto("slett_automatisk"))
    await fake.wait_until(
        lambda: "Slett samtalen automatisk" in (fake.bot_messages(user)[-1].text or ""), what="the choice"
    )
    fake.press_button(user, fake.bot_messages(user)[-1], callbacks.auto_delete(AUTO_DELETE_SECONDS))
    await fake.wait_until(
        lambda: "sletter jeg denne samtalen" in (fake.bot_messages(user)[-1].text or ""), what="confirmed"
    )


def nothing_of_the_choice(database_url: str, user: FakeUser) -> bool:
    """No row of the chat, and no auto-delete time or sealed chat id anywhere."""
    key = Pseudonymizer(PSEUDONYM_KEY.encode()).chat_key(user.id)
    rows = query(database_url, "SELECT count(*) FROM chat WHERE key = :key", key=key)
    left = query(
        database_url,
        "SELECT count(*) FROM chat WHERE auto_delete_at IS NOT NULL OR auto_delete_chat IS NOT NULL",
    )
    return rows[0][0] == 0 and left[0][0] == 0


async def test_quick_exit_and_an_auto_delete_that_fires_once_after_a_restart(
    fake: FakeBotApi, dialogues: Path, tmp_path: Path
) -> None:
    """One bot, restarted once: the quick exit (also under flood control), and an auto-delete."""
    kari, ola, per, liv = (fake.add_user(name) for name in ("Kari", "Ola", "Per", "Liv"))
    env = {"DIALOGUES_DIR": str(dialogues), **UNPACED, **FAST_JOB}
    async with serving(fake, tmp_path, webhook=True, **env) as served:
        fake.send_command(kari, "start")
        await fake.wait_for_bot_messages(kari, 1)
        await talk(fake, ola, 2)
        fake.advance(49 * 3600)  # by Telegram's clock these four are too old to delete now
        old = {m.message_id for m in fake.messages(kari)}
        await talk(fake, kari, 55)  # 110 messages younger than 48 hours: more than one call holds
        young = {m.message_id for m in fake.messages(kari)} - old
        olas = [m.message_id for m in alive(fake, ola)]

        count = len(fake.bot_messages(kari, include_deleted=True))
        fake.send_command(kari, "meny")
        (menu,) = (await fake.wait_for_bot_messages(kari, count + 1))[count:]
        assert "Skjul samtalen" in json.dumps(menu.reply_markup, ensure_ascii=False)
        fake.press_button(kari, menu, callbacks.quick_exit())
        await fake.wait_until(
            lambda: (alive(fake, kari)[-1].text or "") == NEUTRAL, what="the neutral message"
        )
        await fake.drain()

        # Exactly the young messages of Kari's chat (the /meny and its menu too), a hundred at most a call.
        assert deleted_ids(fake, kari) == young | {menu.message_id, menu.message_id - 1}
        (neutral,) = [m for m in alive(fake, kari) if m.message_id not in old]
        assert {m.message_id for m in alive(fake, kari)} == {*old, neutral.message_id}
        assert neutral.reply_markup is None, "no button that would say what this chat was about"
        assert all(len(json.loads(op.params["message_ids"])) <= 100 for op in deletes(fake, kari))
        assert [m.message_id for m in alive(fake, ola)] == olas and deletes(fake, ola) == []
        assert nothing_of_the_choice(served.database_url, kari)

        fake.send_command(per, "start")
        await fake.wait_for_bot_messages(per, 1)
        await choose_auto_delete(fake, per)
        await talk(fake, per, 1)  # written after the choice
    assert deletes(fake, per) == [], "stopped before the time came"
    written = {m.message_id for m in fake.messages(per)}

    flood = {"FLOOD_BURST": "2", "FLOOD_PER_SECOND": "0.05"}
    async with serving(fake, tmp_path, webhook=True, **env, **flood) as served:
        fake.send_command(liv, "start")
        (start,) = await fake.wait_for_bot_messages(liv, 1)
        for index in range(6):
            fake.send_text(liv, f"hjelp meg {index}")
        await fake.drain()
        assert len(fake.bot_messages(liv)) < 7, "flood control holds the chat back"
        fake.press_button(liv, start, callbacks.quick_exit())
        await fake.wait_until(
            lambda: (alive(fake, liv)[-1].text or "") == NEUTRAL, what="the exit, held back"
        )
        assert start.message_id in deleted_ids(fake, liv)

        await fake.wait_until(lambda: not alive(fake, per), within=AUTO_DELETE_SECONDS + 10, what="deleted")
        await asyncio.sleep(1)  # five more runs of the job: it must not fire again
        assert len(deletes(fake, per)) == 1
        assert deleted_ids(fake, per) == written
        assert nothing_of_the_choice(served.database_url, per)
    assert "Traceback" not in served.log_text()


async def test_auto_delete_fires_once_with_two_replicas_on_postgresql_after_a_restart(
    fake: FakeBotApi, dialogues: Path, tmp_path: Path
) -> None:
    """Always on PostgreSQL, so not marked slow (the slow tests' re-run on PostgreSQL would repeat it)."""
    per = fake.add_user("Per")
    balancer = Balancer(WEBHOOK_PATH)
    await balancer.start()
    try:
        with fresh_postgres() as database_url:
            env = {
                "DIALOGUES_DIR": str(dialogues),
                "DATABASE_URL": database_url,
                "WEBHOOK_URL": balancer.url,
                "DATABASE_REPLICAS": "2",
                **UNPACED,
                **FAST_JOB,
            }

            # The choice is made on one replica; after the restart two replicas' jobs compete for it.
            async with serving(fake, tmp_path / "r0", webhook=True, **env) as first:
                balancer.replicas = [first.port]
                fake.send_command(per, "start")
                await fake.wait_for_bot_messages(per, 1)
                await choose_auto_delete(fake, per)
                await talk(fake, per, 1)
            assert deletes(fake, per) == [], "stopped before the time came"
            written = {m.message_id for m in fake.messages(per)}
            async with AsyncExitStack() as stack:
                # Started side by side: a replica's start is most of this test's time.
                contexts = [serving(fake, tmp_path / f"r{i}", webhook=True, **env) for i in range(2)]
                results = await asyncio.gather(*(c.__aenter__() for c in contexts), return_exceptions=True)
                for context, result in zip(contexts, results, strict=True):
                    if not isinstance(result, BaseException):  # a replica that started is stopped again
                        stack.push_async_exit(context)
                started = [r for r in results if isinstance(r, Served)]
                assert len(started) == 2, results
                balancer.replicas = [served.port for served in started]
                await fake.wait_until(
                    lambda: not alive(fake, per), within=AUTO_DELETE_SECONDS + 10, what="deleted"
                )
                await asyncio.sleep(1)  # both replicas' jobs ran again meanwhile
                assert len(deletes(fake, per)) == 1, "one replica deleted it, once"
                assert deleted_ids(fake, per) == written
                assert nothing_of_the_choice(database_url, per)
    finally:
        await balancer.stop()
