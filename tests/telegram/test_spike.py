"""A campaign spike through `balansebot serve`: 2,000 new chats at once against Telegram's limits.

Each chat sends /start and two questions within the spike's window. The offline Bot API holds the
bot to Telegram's limits (about 30 messages a second overall, a short burst and then about one a
second in one chat; 429 "retry after" beyond) and delivers the updates as Telegram does: each
chat's in order, up to the webhook's max_connections at once. Every chat must be answered once,
in order, with hardly a 429: the bot queues the spike itself instead of being refused.

Time runs SCALE times faster here, so the test takes about a minute instead of four: the limits,
the bot's pacing and the window are all scaled alike (the README says so beside the figures).
Run with -s to see the figures.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.fake_bot_api import FakeBotApi, FakeUser, FloodLimits
from tests.telegram.serving import serving

# Telegram's limits are the same whatever the database: the PostgreSQL pass of CI leaves this out.
pytestmark = [pytest.mark.slow, pytest.mark.own_database]
SCALE = 4  # time runs this many times faster than on Telegram
CHATS = 2_000
WINDOW = 60.0 / SCALE  # each chat's three updates arrive within "one minute"
TELEGRAM = FloodLimits(per_second=30 * SCALE, chat_burst=4, chat_per_second=1 * SCALE)
PACING = {  # the bot's defaults (25 a second overall, a burst of 3 and one a second per chat), scaled
    "BOT_API_MESSAGES_PER_SECOND": str(25 * SCALE),
    "BOT_API_CHAT_PER_SECOND": str(1 * SCALE),
    "LOG_LEVEL": "INFO",  # the privacy tests read DEBUG logs; 6,000 updates' worth is only slow
}
PHONE_QUESTION, PHONE = "når er telefonen åpen", "400 38 800"
BADGE_QUESTION, BADGE = "hva er balansemerket", "Balansemerket"


def percentile(values: list[float], share: float) -> float:
    """The value `share` of the way up the sorted values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def spike(fake: FakeBotApi, people: list[FakeUser]) -> None:
    """Each person's /start and two questions, at random moments within the window, in that order."""
    rng = random.Random(15)
    moments: list[tuple[float, int, int]] = []
    for index in range(len(people)):
        for step, moment in enumerate(sorted(rng.uniform(0, WINDOW) for _ in range(3))):
            moments.append((moment, index, step))
    moments.sort()
    loop = asyncio.get_running_loop()
    began = loop.time()
    for moment, index, step in moments:
        if (wait := began + moment - loop.time()) > 0:
            await asyncio.sleep(wait)
        person = people[index]
        if step == 0:
            fake.send_command(person, "start")
        else:
            fake.send_text(person, PHONE_QUESTION if step == 1 else BADGE_QUESTION)


def answered(fake: FakeBotApi, count: int) -> Callable[[], bool]:
    """Whether the bot has sent `count` messages; cheap enough to ask after each of thousands of calls."""
    seen = sent = 0

    def check() -> bool:
        nonlocal seen, sent
        sent += sum(op.method == "sendMessage" and op.ok for op in fake.ops[seen:])
        seen = len(fake.ops)
        return sent >= count

    return check


async def test_a_campaign_spike_is_answered_once_in_order_under_telegrams_limits(tmp_path: Path) -> None:
    async with FakeBotApi(flood_limits=TELEGRAM, webhook_retry_delays=(0.5, 1, 2, 4, 8)) as fake:
        people = [fake.add_user(f"Person {n}", language_code="nb") for n in range(CHATS)]
        async with serving(fake, tmp_path, webhook=True, **PACING):
            started = fake.now()
            await spike(fake, people)
            await fake.wait_until(answered(fake, 3 * CHATS), within=300, what="three answers in every chat")
            await fake.drain(within=30)
            await asyncio.sleep(1)  # a late duplicate would show now

    sends = fake.ops_for("sendMessage")
    flood = fake.flood
    assert flood is not None
    refused = [op for op in sends if op.error_code == 429]
    sent = [op for op in sends if op.ok]
    for person in people:
        texts = [m.text or "" for m in fake.bot_messages(person, include_deleted=True)]
        assert len(texts) == 3, (person.id, texts)
        assert "velkommen" in texts[0] and PHONE in texts[1], texts
        assert BADGE in texts[2] and "velkommen" not in texts[2], texts
    assert not fake.dropped_webhook_updates
    assert len(refused) <= 0.01 * len(sends), (
        f"{len(refused)} of {len(sends)} sends answered 429: {flood.refused}"
    )

    # Figures for the README: the updates' first webhook POST to the reply to each of them.
    first_post: dict[int, float] = {}
    for post in fake.webhook_posts:
        first_post.setdefault(post.update_id, post.started)
    updates_of: dict[int, list[int]] = defaultdict(list)
    for update in fake.delivered_updates:
        updates_of[update["message"]["chat"]["id"]].append(update["update_id"])
    replies_of: dict[int | None, list[float]] = defaultdict(list)
    for op in sent:
        replies_of[op.chat_id].append(op.at)
    reply_of: dict[int, float] = {}
    for person in people:
        reply_of.update(zip(updates_of[person.id], replies_of[person.id], strict=True))
    latencies = [reply_of[u] - first_post[u] for u in reply_of]
    queued = [reply_of[p.update_id] - p.created for p in fake.webhook_posts if p.update_id in reply_of]
    holds = [post.ended - post.started for post in fake.webhook_posts]
    duration = sent[-1].at - started
    print(
        f"\nspike: {CHATS} chats, {len(sent)} replies in {duration:.1f} s (time x{SCALE}): "
        f"{len(sent) / duration:.1f} sends/s ({len(sent) / duration / SCALE:.1f} in Telegram's time), "
        f"{len(refused)} answered 429 ({100 * len(refused) / len(sends):.2f} %: {dict(flood.refused)}), "
        f"POST->reply p50 {statistics.median(latencies):.2f} s p99 {percentile(latencies, 0.99):.2f} s, "
        f"user->reply p99 {percentile(queued, 0.99):.2f} s, longest webhook hold {max(holds):.2f} s, "
        f"{sum(p.error is not None for p in fake.webhook_posts)} webhook deliveries failed"
    )
