"""The Bot API calls a conversation makes, straight through the bot's transport, with safe retries.

PTB's `Bot` wraps every call in layers a reply does not need (defaults, the callback-data cache,
the rate limiter, then parsing Telegram's echo into objects); under load they cost more CPU than
the dialogue itself. Conversations only send, edit, delete and answer button presses, so they call
the transport directly and handle the two kinds of retry here. PTB's `Bot` still makes every other
call (setWebhook, getUpdates, leaving a group, the staff chat).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import warnings
from collections.abc import Callable, Mapping
from contextvars import ContextVar

from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.request import BaseRequest, RequestData

# RequestData's own signature names this type; PTB does not re-export it (pinned in uv.lock, and
# tests/telegram/test_bot_api.py calls through it).
from telegram.request._requestparameter import RequestParameter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)
NETWORK_RETRIES = 3
FIRST_BACKOFF_SECONDS = 0.5
FLOOD_RETRIES = 5  # as many waits after a 429 as PTB's rate limiter is given for the other calls
# Telegram gives a webhook about a minute to answer (not documented; seen) before it counts the
# delivery as failed. Inside a webhook request a 429 is waited out only up to this, in all; a longer
# wait is answered 503, and the redelivery comes when Telegram is ready for it.
WEBHOOK_FLOOD_WAIT_SECONDS = 20.0
# Told of each retry ("network", "timeout" or "flood"); set per update by the metrics' update processor.
retry_observer: ContextVar[Callable[[str], None] | None] = ContextVar("retry_observer", default=None)


class BotApi:
    """Calls Bot API methods by name; the answer's `result` comes back as plain JSON."""

    def __init__(
        self,
        request: BaseRequest,
        base_url: str,
        *,
        flood_retries: int = FLOOD_RETRIES,
        max_flood_wait: float | None = None,
    ) -> None:
        """Call through `request` (an initialised transport) at `base_url` (the API URL with the token);
        wait out 429s for `max_flood_wait` seconds at most in all (None: as long as Telegram asks)."""
        self._request = request
        self._base_url = base_url
        self._flood_retries = flood_retries
        self._max_flood_wait = max_flood_wait

    async def call(self, method: str, parameters: Mapping[str, object]) -> object:
        """Call `method`, retrying what is safe to retry; raises PTB's TelegramError subclasses.

        A 429 is waited out for as long as Telegram asks (the reply must not be dropped). Network
        errors and timeouts are retried with backoff: a timed-out send may in rare cases have
        arrived, and a duplicate reply is the lesser harm than a lost one for someone asking for
        help. A 400 or 403 is permanent and raised at once.
        """
        data = RequestData([RequestParameter.from_input(key, value) for key, value in parameters.items()])
        url = f"{self._base_url}/{method}"
        network_failures = flood_waits = 0
        delay = FIRST_BACKOFF_SECONDS
        flood_waited = 0.0
        while True:
            try:
                return await self._request.post(url, data)
            except RetryAfter as error:
                seconds = retry_after_seconds(error) + 0.1  # as PTB's rate limiter waits
                limit = self._max_flood_wait
                if flood_waits == self._flood_retries or (
                    limit is not None and flood_waited + seconds > limit
                ):
                    raise
                flood_waits += 1
                flood_waited += seconds
                _observe("flood")
                log.warning("Bot API asked to slow down; %s again in %.1fs", method, seconds)
                await asyncio.sleep(seconds)
            except BadRequest:
                raise
            except NetworkError as error:  # BadRequest is a NetworkError too: caught above
                if network_failures == NETWORK_RETRIES:
                    raise
                network_failures += 1
                _observe("timeout" if isinstance(error, TimedOut) else "network")
                log.warning(
                    "Bot API call failed (%s), retry %d in %.1fs",
                    type(error).__name__,
                    network_failures,
                    delay,
                )
                await asyncio.sleep(delay)
                delay *= 2


def retry_after_seconds(error: RetryAfter) -> float:
    """How long Telegram asked to wait, in seconds."""
    with warnings.catch_warnings():
        # PTB 22 warns that the attribute becomes a timedelta in a later major version; both are handled.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)


def _observe(reason: str) -> None:
    if (observe := retry_observer.get()) is not None:
        observe(reason)
