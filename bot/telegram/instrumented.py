"""Counting versions of the parts every update and Bot API call passes through, for `BotMetrics`.

The transport sees every Bot API request (its method and how it ended), the rate limiter every
retry after a 429, and the update processor every update in webhook and polling mode alike; so
counting there needs no change to the code that handles updates.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import MessageEntity, Update
from telegram._utils.types import JSONDict, ODVInput
from telegram.constants import ChatType
from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.ext import AIORateLimiter, BaseUpdateProcessor
from telegram.request import BaseRequest, RequestData

from bot.engine.model import ButtonPress, Command, FreeText
from bot.telegram.bot_api import retry_after_seconds, retry_observer
from bot.telegram.conversations import Incoming
from bot.telegram.metrics import BotMetrics
from bot.telegram.transport import AiohttpRequest

METHOD_NAME = re.compile(r"[A-Za-z]{1,64}")
INCOMING_KINDS = {Command: "command", FreeText: "text", ButtonPress: "callback"}
RateLimited = Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]]


def api_method(url: str) -> str:
    """The Bot API method a request URL calls; "other" for anything else (a file download)."""
    # The token sits in the path before the method, so only the last segment may become a label.
    last = url.rsplit("?", 1)[0].rsplit("/", 1)[-1]
    return last if METHOD_NAME.fullmatch(last) else "other"


def api_outcome(status: int) -> str:
    """The outcome class of an HTTP status from the Bot API."""
    if 200 <= status < 300:
        return "ok"
    if status == 429:  # flood control: told apart from other 4xx, it is retried
        return "429"
    if 400 <= status < 600:
        return f"{status // 100}xx"
    return "other"


def update_kind(update: object) -> str:
    """What kind of update this is, as counted in `balansebot_updates_total` (never who or what)."""
    if isinstance(update, Incoming):  # an ordinary update the webhook answers without PTB's objects
        return INCOMING_KINDS.get(type(update.event), "other")
    if not isinstance(update, Update):
        return "other"
    if update.my_chat_member is not None or update.chat_member is not None:
        return "membership"
    if update.callback_query is not None:
        return "callback"
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        return "group"
    if update.edited_message is not None:
        return "edited"
    message = update.message
    if message is None:
        return "other"
    entities = message.entities
    if entities and entities[0].type == MessageEntity.BOT_COMMAND and entities[0].offset == 0:
        return "command"  # as PTB's filters.COMMAND decides
    return "text" if message.text is not None else "other"


class MeasuredRequest(AiohttpRequest):
    """The aiohttp transport, counting each request by method and outcome."""

    __slots__ = ("_metrics",)

    def __init__(self, metrics: BotMetrics, **settings: Any) -> None:
        """Count into `metrics`; `settings` are AiohttpRequest's."""
        super().__init__(**settings)
        self._metrics = metrics

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send the request as AiohttpRequest does, and count how it ended."""
        name = api_method(url)
        try:
            status, payload = await super().do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
            )
        except TimedOut:
            self._metrics.count_api_call(name, "timeout")
            raise
        except NetworkError:
            self._metrics.count_api_call(name, "network")
            raise
        self._metrics.count_api_call(name, api_outcome(status))
        return status, payload


class MeasuredRateLimiter(AIORateLimiter):
    """PTB's rate limiter, counting the retries it makes after a 429."""

    __slots__ = ("_max_wait", "_metrics")

    def __init__(self, metrics: BotMetrics, *, max_wait: float | None = None, **settings: Any) -> None:
        """Count into `metrics`; wait out 429s for `max_wait` seconds at most in all (None: as long as
        Telegram asks, as AIORateLimiter does); `settings` are AIORateLimiter's."""
        super().__init__(**settings)
        self._metrics = metrics
        self._max_wait = max_wait

    async def process_request(
        self,
        callback: RateLimited,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Run the request as AIORateLimiter does; every call of it after the first is a retry."""
        attempts = 0
        waited = 0.0

        async def counted(*call_args: Any, **call_kwargs: Any) -> bool | JSONDict | list[JSONDict]:
            nonlocal attempts, waited
            if attempts:
                self._metrics.count_retry("flood")
            attempts += 1
            try:
                return await callback(*call_args, **call_kwargs)
            except RetryAfter as error:
                waited += retry_after_seconds(error) + 0.1
                if self._max_wait is not None and waited > self._max_wait:
                    # Not a RetryAfter, which AIORateLimiter would sleep out: the update fails now
                    # (a webhook delivery gets 503) and comes again later.
                    raise TimedOut("Telegram asked to wait longer than a webhook answer may") from error
                raise

        return await super().process_request(counted, args, kwargs, endpoint, data, rate_limit_args)


class MeasuredUpdateProcessor(BaseUpdateProcessor):
    """Wraps the bot's update processor: counts each update by kind and times its handling."""

    def __init__(self, inner: BaseUpdateProcessor, metrics: BotMetrics) -> None:
        """Process updates with `inner` (same concurrency), counting into `metrics`."""
        super().__init__(inner.max_concurrent_updates)
        self._inner = inner
        self._metrics = metrics

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Count the update, then let the inner processor run it, timed."""
        self._metrics.count_update(update_kind(update))
        await self._inner.do_process_update(update, self._timed(coroutine))

    async def _timed(self, coroutine: Awaitable[Any]) -> None:
        # Set here, inside the update's own task, so only this update's retries reach these metrics.
        token = retry_observer.set(self._metrics.count_retry)
        started = time.perf_counter()
        try:
            await coroutine
        finally:
            self._metrics.update_seconds.observe(time.perf_counter() - started)
            retry_observer.reset(token)

    async def initialize(self) -> None:
        """Initialise the inner processor."""
        await self._inner.initialize()

    async def shutdown(self) -> None:
        """Shut the inner processor down."""
        await self._inner.shutdown()
