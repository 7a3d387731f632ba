"""BotApi: the conversations' direct Bot API calls, against the offline Bot API over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from telegram.error import BadRequest, Forbidden, RetryAfter, TimedOut

from bot.telegram.bot_api import BotApi, retry_observer
from bot.telegram.instrumented import MeasuredRequest
from bot.telegram.metrics import BotMetrics
from bot.telegram.transport import AiohttpRequest
from tests.support.fake_bot_api import FakeBotApi, FakeUser

pytestmark = pytest.mark.filterwarnings("error")  # no PTB deprecation warning from reading retry_after


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
async def request_() -> AsyncIterator[AiohttpRequest]:
    request = AiohttpRequest(read_timeout=0.3)
    await request.initialize()
    yield request
    await request.shutdown()


@pytest.fixture
def kari(fake: FakeBotApi) -> FakeUser:
    person = fake.add_user("Kari")
    fake.private_chat(person).started = True
    return person


@pytest.fixture
def retries() -> Iterator[list[str]]:
    seen: list[str] = []
    token = retry_observer.set(seen.append)
    yield seen
    retry_observer.reset(token)


def api_for(fake: FakeBotApi, request: AiohttpRequest, **options: int) -> BotApi:
    return BotApi(request, f"{fake.base_url}{fake.token}", **options)


async def test_a_message_is_sent_with_html_and_buttons_and_its_json_comes_back(
    fake: FakeBotApi, request_: AiohttpRequest, kari: FakeUser
) -> None:
    keyboard = {"inline_keyboard": [[{"text": "Meny", "callback_data": "n:menu"}]]}
    result = await api_for(fake, request_).call(
        "sendMessage",
        {
            "chat_id": kari.id,
            "text": "<b>Hei</b> &amp; velkommen",
            "parse_mode": "HTML",
            "reply_markup": keyboard,
        },
    )
    assert isinstance(result, dict)
    [shown] = fake.bot_messages(kari)
    assert result["message_id"] == shown.message_id
    assert shown.text == "Hei & velkommen"
    assert shown.callback_datas == {"n:menu"}


async def test_a_429_is_waited_out_and_told_to_the_observer(
    fake: FakeBotApi, request_: AiohttpRequest, kari: FakeUser, retries: list[str]
) -> None:
    fake.rate_limit("sendMessage", retry_after=1, count=2)
    await api_for(fake, request_).call("sendMessage", {"chat_id": kari.id, "text": "Hei"})
    assert retries == ["flood", "flood"]
    assert [op.error_code for op in fake.ops_for("sendMessage")] == [429, 429, None]
    calls = fake.ops_for("sendMessage")
    assert calls[-1].at - calls[0].at >= 2.0, "waited as long as Telegram asked, twice"
    assert len(fake.bot_messages(kari)) == 1


async def test_after_its_flood_retries_the_429_is_raised(
    fake: FakeBotApi, request_: AiohttpRequest, kari: FakeUser
) -> None:
    fake.rate_limit("sendMessage", retry_after=1, count=2)
    with pytest.raises(RetryAfter):
        await api_for(fake, request_, flood_retries=1).call(
            "sendMessage", {"chat_id": kari.id, "text": "Hei"}
        )
    assert fake.bot_messages(kari) == []


async def test_network_failures_and_timeouts_are_retried(
    fake: FakeBotApi, request_: AiohttpRequest, kari: FakeUser, retries: list[str]
) -> None:
    fake.drop_connection("sendMessage")
    fake.hang("sendMessage")
    await api_for(fake, request_).call("sendMessage", {"chat_id": kari.id, "text": "Hei"})
    fake.release_hangs()
    assert retries == ["network", "timeout"]
    assert len(fake.bot_messages(kari)) == 1


async def test_a_network_that_stays_down_fails_after_the_retries(
    fake: FakeBotApi, request_: AiohttpRequest, kari: FakeUser, retries: list[str]
) -> None:
    fake.hang("getMe", count=4)
    with pytest.raises(TimedOut):
        await api_for(fake, request_).call("getMe", {})
    fake.release_hangs()
    assert retries == ["timeout"] * 3


@pytest.mark.parametrize(
    ("status", "description", "error"),
    [
        (400, "Bad Request: message text is empty", BadRequest),
        (403, "Forbidden: bot was blocked by the user", Forbidden),
    ],
)
async def test_a_refusal_is_raised_at_once(
    fake: FakeBotApi,
    request_: AiohttpRequest,
    kari: FakeUser,
    retries: list[str],
    status: int,
    description: str,
    error: type[Exception],
) -> None:
    fake.fail_next("sendMessage", status, description)
    with pytest.raises(error, match=f"(?i){description.split(': ', 1)[1]}"):
        await api_for(fake, request_).call("sendMessage", {"chat_id": kari.id, "text": "Hei"})
    assert retries == []
    assert len(fake.ops_for("sendMessage")) == 1


async def test_its_calls_are_counted_by_the_measured_transport(fake: FakeBotApi, kari: FakeUser) -> None:
    metrics = BotMetrics(process_metrics=False)
    request = MeasuredRequest(metrics)
    await request.initialize()
    try:
        fake.rate_limit("sendMessage", retry_after=1)
        await api_for(fake, request).call("sendMessage", {"chat_id": kari.id, "text": "Hei"})
    finally:
        await request.shutdown()
    count = metrics.registry.get_sample_value
    assert count("balansebot_bot_api_calls_total", {"method": "sendMessage", "outcome": "429"}) == 1
    assert count("balansebot_bot_api_calls_total", {"method": "sendMessage", "outcome": "ok"}) == 1
