"""Three `balansebot serve` replicas on one PostgreSQL behind a load balancer: each reply once, in order.

The fake Bot API plays Telegram (webhook delivery with retries, one chat's updates one at a time);
the balancer in front of the replicas repeats some deliveries to two replicas at once; one replica
is killed with SIGKILL while it is in the middle of answering.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.databases import fresh_postgres
from tests.support.balancer import Balancer
from tests.support.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.serving import WEBHOOK_PATH, Served, serving

pytestmark = [pytest.mark.slow, pytest.mark.own_database]
REPLICAS = 3
PSEUDONYM_KEY = "replicas-share-this-key-0123456789abcdef"
# (what the reader does, a part of the one reply it must get); the balancer repeats every other one.
STEPS: list[tuple[str, str, str]] = [
    ("command", "start", "anonym"),
    ("command", "telefon", "400 38 800"),
    ("text", "hva er balansemerket egentlig", "Balansemerket"),
    ("command", "personvern", "ende-til-ende"),
    ("command", "hjelp", "/slett"),  # the replica answering this one is killed mid-way
    ("text", "når er telefonen åpen egentlig", "400 38 800"),
    ("command", "merket", "Balansemerket"),
    ("command", "meny", "vite mer om"),
]
KILLED_STEP = 4


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """The offline Bot API, delivering by webhook."""
    async with FakeBotApi() as server:
        yield server


def act(fake: FakeBotApi, user: FakeUser, kind: str, value: str) -> int:
    """Do one step as the reader; returns the update's id."""
    update = fake.send_command(user, value) if kind == "command" else fake.send_text(user, value)
    return int(update["update_id"])


async def test_replicas_answer_each_update_once_and_in_order(fake: FakeBotApi, tmp_path: Path) -> None:
    kari = fake.add_user("Kari")
    balancer = Balancer(WEBHOOK_PATH, repeat=lambda update_id: update_id % 2 == 0)
    await balancer.start()
    try:
        with fresh_postgres() as database_url:
            async with AsyncExitStack() as stack:
                replicas: dict[int, Served] = {}
                for index in range(REPLICAS):
                    served = await stack.enter_async_context(
                        serving(
                            fake,
                            tmp_path / f"replica-{index}",
                            webhook=True,
                            DATABASE_URL=database_url,
                            PSEUDONYM_KEY=PSEUDONYM_KEY,
                            WEBHOOK_URL=balancer.url,
                            DATABASE_REPLICAS=str(REPLICAS),
                        )
                    )
                    replicas[served.port] = served
                balancer.replicas = list(replicas)

                update_ids = []
                for number, (kind, value, expected) in enumerate(STEPS):
                    if number == KILLED_STEP:
                        update_ids.append(
                            await kill_while_answering(fake, kari, balancer, replicas, kind, value)
                        )
                    else:
                        update_ids.append(act(fake, kari, kind, value))
                    messages = await fake.wait_for_bot_messages(kari, number + 1, within=20)
                    assert expected in (messages[number].text or ""), (number, value)

                await fake.drain(within=10)
                await asyncio.sleep(0.5)  # a late duplicate would show up now
                answers = fake.bot_messages(kari, include_deleted=True)
                assert len(answers) == len(STEPS), [a.text for a in answers]
                for answer, (_, value, expected) in zip(answers, STEPS, strict=True):
                    assert expected in (answer.text or ""), value
                assert not fake.dropped_webhook_updates

                repeated = [u for u in update_ids if len(set(balancer.handled_by(u))) == 2]
                assert repeated, "some updates reached two replicas at once, and got one reply all the same"
                answering = {port for u in update_ids for port in balancer.handled_by(u)}
                assert len(answering) >= 2, "the balancer spread the chat over replicas"
    finally:
        fake.release_hangs()
        await balancer.stop()


async def kill_while_answering(
    fake: FakeBotApi,
    user: FakeUser,
    balancer: Balancer,
    replicas: dict[int, Served],
    kind: str,
    value: str,
) -> int:
    """Send a step whose reply hangs at Telegram, SIGKILL the replica on it; another answers it."""
    calls_before = fake.calls["sendMessage"]
    repeat, balancer.repeat = balancer.repeat, lambda _update_id: False  # one replica holds it
    fake.hang("sendMessage")
    update_id = act(fake, user, kind, value)
    await fake.wait_until(lambda: fake.calls["sendMessage"] > calls_before, within=10, what="the hung send")
    (victim,) = {port for u, port in balancer.started if u == update_id and port in replicas}
    replicas[victim].process.kill()
    await replicas[victim].process.wait()
    balancer.replicas.remove(victim)
    await fake.wait_until(
        lambda: any(port != victim for port in balancer.handled_by(update_id)),
        within=20,
        what="the update answered by a surviving replica",
    )
    balancer.repeat = repeat
    return update_id
