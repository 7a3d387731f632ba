"""The one Bot API client: PTB's `ExtBot`, every call paced under Telegram's limits and retried alike.

Telegram lets a bot send about 30 messages a second across chats and about one a second in one
chat (a short burst is let through). Over that it answers 429 with `retry_after`. In a campaign
spike many more replies are due than that, so they queue here, in order, instead of being sent
and refused: one token bucket for the whole bot and one per chat (`Pacing`). The same rate limiter
retries every call — replies, edits, deletes, button answers, the staff chat, setWebhook — by one
policy: a 429 is waited out as Telegram asks (up to a cap), network errors and timeouts are tried
again with backoff, a refusal (400, 403) is raised at once. PTB's own getUpdates is not passed to
a rate limiter; its Updater retries it itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter, ExtBot
from telegram.warnings import PTBDeprecationWarning

from bot.telegram.metrics import BotMetrics
from bot.telegram.transport import AiohttpRequest

log = logging.getLogger(__name__)
# Calls that post a message, which Telegram counts against its limits (button answers, deletes do not).
MESSAGE_CALLS = ("send", "edit", "copy", "forward")
MAX_CHAT_BUCKETS = 100_000  # chats paced at once at most; a bucket is dropped once it is full again
PTBResult = bool | dict[str, Any] | list[dict[str, Any]]
Call = Callable[..., Coroutine[Any, Any, PTBResult]]


@dataclass(frozen=True)
class Pacing:
    """How fast the bot sends and how it retries (BOT_API_* settings)."""

    messages_per_second: float = 25.0
    """All chats together; under Telegram's ~30, which also counts edits."""
    chat_burst: int = 3
    """Messages one chat is sent at once (an answer of a few messages)…"""
    chat_per_second: float = 1.0
    """…and then a second, as Telegram allows one chat."""
    longest_flood_wait: float = 10.0
    """Seconds of 429 waits one call may add up; beyond, it fails (a webhook update: 503, redelivered).

    Short, because a webhook request is held while its reply waits and Telegram gives up on a
    request it waited too long for; Telegram's retry_after in a spike is a second or a few.
    """
    network_retries: int = 3
    first_backoff: float = 0.5

    def __post_init__(self) -> None:
        """Refuse a pacing that could never send."""
        if self.messages_per_second <= 0 or self.chat_per_second <= 0 or self.chat_burst < 1:
            raise ValueError("pacing needs positive rates and a chat burst of at least 1")


class TokenBucket:
    """`burst` tokens, refilled at `rate` a second; takers wait for a token in the order they came.

    A token is taken only when it is there at the moment of sending: after the event loop was
    held up, the sends it delayed do not all go out at once beyond the burst.
    """

    __slots__ = ("_at", "_burst", "_clock", "_queue", "_rate", "_tokens")

    def __init__(self, burst: float, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._burst = burst
        self._rate = rate
        self._clock = clock
        self._tokens = burst
        self._at = clock()
        self._queue = asyncio.Lock()  # first come, first served

    def wait(self) -> float:
        """Seconds until a token is there (0: one is there now)."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self._rate

    async def take(self) -> None:
        """Wait for a token, behind those who came first, and take it."""
        async with self._queue:
            while (seconds := self.wait()) > 0:  # noqa: ASYNC110 - it waits for time to pass, no event
                await asyncio.sleep(seconds)
            self._tokens -= 1

    def full_by(self) -> float:
        """When (on the clock) the bucket is full again, if nobody takes a token meanwhile."""
        return self._at + (self._burst - self._tokens) / self._rate


class PacedRetries(BaseRateLimiter[None]):
    """PTB's rate-limiter hook: paces message calls (whole bot, and each chat) and retries every call."""

    def __init__(
        self,
        pacing: Pacing,
        count_retry: Callable[[str], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Pace and retry as `pacing` says; `count_retry` hears "flood", "network" or "timeout"."""
        self._pacing = pacing
        self._count_retry = count_retry
        self._clock = clock
        # A tenth of a second's worth at once: any one second then holds a tenth over the rate at
        # most, under Telegram's ~30 with the default 25, with room for the network's jitter.
        self._overall = TokenBucket(
            max(1.0, pacing.messages_per_second / 10), pacing.messages_per_second, clock
        )
        self._chats: OrderedDict[object, TokenBucket] = OrderedDict()  # least recently used first

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Call,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> PTBResult:
        """Wait for this call's turn, then make it, retrying as the policy says.

        PTB suggests a rate limiter handle only 429s; network errors are retried here as well so
        that every call of the bot has the one policy. A timed-out send may in rare cases have
        arrived: a duplicate reply is the lesser harm than a lost one for someone asking for help.
        """
        if endpoint.startswith(MESSAGE_CALLS):
            await self._turn(data.get("chat_id"))
        flood_waited = 0.0
        failures = 0
        backoff = self._pacing.first_backoff
        while True:
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                seconds = retry_after_seconds(error)
                if flood_waited + seconds > self._pacing.longest_flood_wait:
                    raise
                flood_waited += seconds
                self._count_retry("flood")
                log.warning("Bot API asked to slow down; %s again in %.1fs", endpoint, seconds)
                await asyncio.sleep(seconds)
            except BadRequest:
                raise  # a refusal of this very call; BadRequest is a NetworkError too
            except NetworkError as error:
                if failures == self._pacing.network_retries:
                    raise
                failures += 1
                self._count_retry("timeout" if isinstance(error, TimedOut) else "network")
                log.warning(
                    "Bot API call failed (%s), %s again in %.1fs (retry %d)",
                    type(error).__name__,
                    endpoint,
                    backoff,
                    failures,
                )
                await asyncio.sleep(backoff)
                backoff *= 2

    @property
    def chats_paced(self) -> int:
        """How many chats have a bucket (that is not full again) right now."""
        return len(self._chats)

    async def _turn(self, chat_id: object) -> None:
        """Wait until the chat, and then the whole bot, may send one more message."""
        await self._chat_bucket(chat_id).take()
        await self._overall.take()

    def _chat_bucket(self, chat_id: object) -> TokenBucket:
        now = self._clock()
        chats = self._chats
        while chats and next(iter(chats.values())).full_by() <= now:
            chats.popitem(last=False)  # full again: as good as a new one
        bucket = chats.get(chat_id)
        if bucket is None:
            bucket = chats[chat_id] = TokenBucket(
                self._pacing.chat_burst, self._pacing.chat_per_second, self._clock
            )
            if len(chats) > MAX_CHAT_BUCKETS:
                chats.popitem(last=False)
        else:
            chats.move_to_end(chat_id)
        return bucket


def retry_after_seconds(error: RetryAfter) -> float:
    """How long Telegram asked to wait, in seconds (a timedelta with PTB_TIMEDELTA, else an int)."""
    with warnings.catch_warnings():
        # PTB 22 warns that the attribute becomes a timedelta in a later major version; both are handled.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)


@dataclass(frozen=True)
class BotApiConfig:
    """Where the Bot API is and how to talk to it (BOT_TOKEN, BOT_API_URL, BOT_API_* settings)."""

    token: str
    base_url: str
    timeout_seconds: float
    connections: int
    pacing: Pacing


def bot_api(config: BotApiConfig, metrics: BotMetrics) -> ExtBot[None]:
    """The bot's one client (not yet initialised): every call paced, retried and counted."""
    timeout = config.timeout_seconds

    def transport(connections: int) -> AiohttpRequest:
        # getUpdates waits its long-poll timeout on top of this (PTB adds it to the read timeout).
        return AiohttpRequest(
            connection_pool_size=connections,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            count=metrics.count_api_call,
        )

    return ExtBot(
        config.token,
        base_url=config.base_url,
        request=transport(config.connections),
        get_updates_request=transport(2),
        rate_limiter=PacedRetries(config.pacing, metrics.count_retry),
    )
