"""The one Bot API client: pacing under Telegram's limits and one retry policy, on the offline Bot API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError
from telegram import User
from telegram.error import BadRequest, Forbidden, RetryAfter, TimedOut
from telegram.ext import ExtBot

from bot.settings import ServeSettings
from bot.telegram.metrics import BotMetrics
from bot.telegram.outbound import BotApiConfig, PacedRetries, Pacing, TokenBucket, bot_api
from tests.support.fake_bot_api import FakeBotApi, FakeUser, FloodLimits

pytestmark = pytest.mark.filterwarnings("error")  # no PTB deprecation warning from reading retry_after


class Clock:
    """Seconds that move only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
def kari(fake: FakeBotApi) -> FakeUser:
    person = fake.add_user("Kari")
    fake.private_chat(person).started = True
    return person


def client(fake: FakeBotApi, metrics: BotMetrics, **pacing: float) -> ExtBot[None]:
    config = BotApiConfig(
        fake.token, fake.base_url, timeout_seconds=0.3, connections=8, pacing=Pacing(**pacing)
    )
    return bot_api(config, metrics)


def retries(metrics: BotMetrics, reason: str) -> float:
    return metrics.registry.get_sample_value("balansebot_bot_api_retries_total", {"reason": reason}) or 0.0


def test_a_bucket_says_how_long_until_its_next_token() -> None:
    clock = Clock()
    bucket = TokenBucket(3, 2.0, clock)
    assert bucket.wait() == 0
    assert bucket.full_by() == clock.now
    clock.now += 10
    assert bucket.wait() == 0, "never more than the burst"


async def test_takers_get_the_burst_at_once_then_one_after_another_in_order() -> None:
    bucket = TokenBucket(3, 20.0)
    taken: list[tuple[int, float]] = []
    started = time.monotonic()

    async def take(n: int) -> None:
        await bucket.take()
        taken.append((n, time.monotonic() - started))

    await asyncio.gather(*(take(n) for n in range(7)))
    assert [n for n, _ in taken] == list(range(7)), "first come, first served"
    assert all(at < 0.04 for _, at in taken[:3]), "the burst at once"
    assert taken[-1][1] >= 4 / 20 * 0.9, "then 20 a second"


def test_a_pacing_that_could_never_send_is_refused() -> None:
    for wrong in ({"messages_per_second": 0}, {"chat_per_second": -1}, {"chat_burst": 0}):
        with pytest.raises(ValueError, match="pacing"):
            Pacing(**wrong)  # type: ignore[arg-type]


async def test_one_chat_gets_its_burst_and_then_its_rate_and_telegram_refuses_none() -> None:
    # Telegram here lets a chat have one message more at once than the bot sends (slack for jitter).
    async with FakeBotApi(flood_limits=FloodLimits(chat_burst=3, chat_per_second=4)) as fake:
        kari = fake.add_user("Kari")
        fake.private_chat(kari).started = True
        metrics = BotMetrics(process_metrics=False)
        async with client(fake, metrics, chat_burst=2, chat_per_second=4) as bot:
            started = time.monotonic()
            await asyncio.gather(*(bot.send_message(kari.id, f"{n}") for n in range(6)))
            took = time.monotonic() - started
        sends = fake.ops_for("sendMessage")
        assert [op.ok for op in sends] == [True] * 6, "no 429: the bot kept to the chat's limit itself"
        assert took >= 0.95, "2 at once, then 4 more at 4 a second"
        assert [m.text for m in fake.bot_messages(kari)] == [f"{n}" for n in range(6)], "in the order asked"


async def test_all_chats_together_are_paced_to_the_overall_rate() -> None:
    async with FakeBotApi(flood_limits=FloodLimits(per_second=60)) as fake:
        people = [fake.add_user(f"P{n}") for n in range(40)]
        for person in people:
            fake.private_chat(person).started = True
        metrics = BotMetrics(process_metrics=False)
        async with client(fake, metrics, messages_per_second=50) as bot:
            started = time.monotonic()
            await asyncio.gather(*(bot.send_message(p.id, "hei") for p in people))
            took = time.monotonic() - started
        assert all(op.ok for op in fake.ops_for("sendMessage")), "none refused"
    assert took >= (40 - 5) / 50 * 0.95, "a burst of a tenth of a second, then 50 a second"
    assert took < 2.0


async def test_calls_that_send_nothing_are_not_held_back(fake: FakeBotApi, kari: FakeUser) -> None:
    metrics = BotMetrics(process_metrics=False)
    async with client(fake, metrics, messages_per_second=1, chat_burst=1, chat_per_second=0.1) as bot:
        await bot.send_message(kari.id, "hei")
        started = time.monotonic()
        await asyncio.gather(*(bot.get_me() for _ in range(5)))
        assert time.monotonic() - started < 0.5


async def test_a_429_is_waited_out_as_telegram_asks(fake: FakeBotApi, kari: FakeUser) -> None:
    metrics = BotMetrics(process_metrics=False)
    async with client(fake, metrics) as bot:
        fake.rate_limit("sendMessage", retry_after=1, count=2)
        await bot.send_message(kari.id, "Hei")
    assert retries(metrics, "flood") == 2
    calls = fake.ops_for("sendMessage")
    assert [op.error_code for op in calls] == [429, 429, None]
    assert calls[-1].at - calls[0].at >= 2.0, "waited as long as Telegram asked, twice"
    assert len(fake.bot_messages(kari)) == 1


async def test_a_429_longer_than_the_cap_is_raised_at_once(fake: FakeBotApi, kari: FakeUser) -> None:
    metrics = BotMetrics(process_metrics=False)
    async with client(fake, metrics, longest_flood_wait=1.5) as bot:
        fake.rate_limit("sendMessage", retry_after=1, count=2)
        with pytest.raises(RetryAfter):
            await bot.send_message(kari.id, "Hei")
        fake.rate_limit("editMessageText", retry_after=30)
        started = time.monotonic()
        with pytest.raises(RetryAfter):
            await bot.edit_message_text("Hei", chat_id=kari.id, message_id=1)
        assert time.monotonic() - started < 1, "no wait that would outlast the webhook request"
    assert retries(metrics, "flood") == 1
    assert fake.bot_messages(kari) == []


@pytest.mark.parametrize(("seconds", "accepted"), [(20, True), (21, False)])
def test_the_flood_wait_cap_stays_under_telegrams_webhook_timeout(seconds: float, accepted: bool) -> None:
    """Telegram gives a webhook about a minute: a cap longer than 20 s is refused at start."""
    values = {
        "bot_token": "123456789:AAFakeTokenForOfflineTestsOnly_abcdefgh",
        "pseudonym_key": "k" * 40,
        "bot_api_longest_flood_wait_seconds": seconds,
    }
    if accepted:
        assert ServeSettings.model_validate(values).bot_api_longest_flood_wait_seconds == seconds
    else:
        with pytest.raises(ValidationError, match="bot_api_longest_flood_wait_seconds"):
            ServeSettings.model_validate(values)


async def test_network_failures_and_timeouts_are_retried_with_backoff(
    fake: FakeBotApi, kari: FakeUser
) -> None:
    metrics = BotMetrics(process_metrics=False)
    async with client(fake, metrics, first_backoff=0.05) as bot:
        fake.drop_connection("sendMessage")
        fake.hang("sendMessage")
        fake.server_error("sendMessage", 502)
        await bot.send_message(kari.id, "Hei")
        fake.release_hangs()
    assert retries(metrics, "network") == 2
    assert retries(metrics, "timeout") == 1
    assert len(fake.bot_messages(kari)) == 1


async def test_a_network_that_stays_down_fails_after_the_retries(fake: FakeBotApi) -> None:
    metrics = BotMetrics(process_metrics=False)
    async with client(fake, metrics, first_backoff=0.05) as bot:
        fake.hang("getChat", count=4)
        with pytest.raises(TimedOut):
            await bot.get_chat(1)
        fake.release_hangs()
    assert retries(metrics, "timeout") == 3


@pytest.mark.parametrize(
    ("status", "description", "error"),
    [
        (400, "Bad Request: message text is empty", BadRequest),
        (403, "Forbidden: bot was blocked by the user", Forbidden),
    ],
)
async def test_a_refusal_is_raised_at_once(
    fake: FakeBotApi, kari: FakeUser, status: int, description: str, error: type[Exception]
) -> None:
    metrics = BotMetrics(process_metrics=False)
    async with client(fake, metrics) as bot:
        fake.fail_next("sendMessage", status, description)
        with pytest.raises(error, match=f"(?i){description.split(': ', 1)[1]}"):
            await bot.send_message(kari.id, "Hei")
    assert retries(metrics, "flood") == retries(metrics, "network") == 0
    assert len(fake.ops_for("sendMessage")) == 1


async def test_every_call_is_counted_by_method_and_outcome(fake: FakeBotApi, kari: FakeUser) -> None:
    metrics = BotMetrics(process_metrics=False)
    async with client(fake, metrics) as bot:
        fake.rate_limit("sendMessage", retry_after=1)
        await bot.send_message(kari.id, "Hei")
        assert isinstance(await bot.get_me(), User)
    count = metrics.registry.get_sample_value
    assert count("balansebot_bot_api_calls_total", {"method": "sendMessage", "outcome": "429"}) == 1
    assert count("balansebot_bot_api_calls_total", {"method": "sendMessage", "outcome": "ok"}) == 1
    assert count("balansebot_bot_api_calls_total", {"method": "getMe", "outcome": "ok"}) == 2, (
        "and one at start"
    )


async def test_chat_buckets_are_dropped_once_full_again() -> None:
    clock = Clock()
    pacing = Pacing(messages_per_second=1e6, chat_burst=2, chat_per_second=1)
    limiter = PacedRetries(pacing, lambda _reason: None, clock=clock)

    async def sent() -> bool:
        return True

    for chat in range(1000):
        await limiter.process_request(sent, (), {}, "sendMessage", {"chat_id": chat}, None)
    assert limiter.chats_paced == 1000
    clock.now += 1.01
    await limiter.process_request(sent, (), {}, "sendMessage", {"chat_id": -1}, None)
    assert limiter.chats_paced == 1, "every chat whose bucket refilled is forgotten"
