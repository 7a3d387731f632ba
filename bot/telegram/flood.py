"""Per-chat flood control: one chat sending faster than a person can type is slowed down, alone.

Each chat has a token bucket (FLOOD_BURST updates at once, refilled at FLOOD_PER_SECOND). A
person who is upset and types many short messages stays well inside it — nobody types more than
one message a second for long, and Telegram splits a long pasted text into a handful of messages
at most. A script sending dozens a second is not. Over the limit, the first update of a throttle
period gets one short, neutral reply (many messages came at once; send it again in a moment, and
the emergency number), later ones are acknowledged and not answered,
and a message that reads as acute danger is answered anyway — up to a looser limit of its own
(ACUTE_BURST at once, then one every 1/ACUTE_PER_SECOND seconds), so a script cannot flood with
"kniv"; beyond that it is treated like any other throttled update, whose notice names 112 too.

The buckets live in memory only, keyed by the raw chat id (never logged, never stored), and stay
bounded: a chat's bucket is dropped once it has had time to fill up again, and at most
`max_chats` are kept (the least recently seen go first).
"""

from __future__ import annotations

import html
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from telegram import Bot
from telegram.error import TelegramError

from bot.engine import callbacks
from bot.engine.engine import Engine, choose_language
from bot.engine.model import ButtonPress, Command, FreeText, Reply
from bot.i18n import Catalogs
from bot.settings import ServeSettings
from bot.telegram.conversations import Incoming
from bot.telegram.metrics import BotMetrics
from bot.telegram.replies import send_replies, stop_spinner

log = logging.getLogger(__name__)
MAX_CHATS = 100_000  # buckets kept at most; ~150 bytes each
# Acute messages over the chat's limit: five answered at once, then one every ten seconds. A person
# in danger is answered every time they can read an answer; a script is not.
ACUTE_BURST = 5
ACUTE_PER_SECOND = 0.1


class Verdict(Enum):
    """What flood control decided for one update."""

    ANSWER = "answer"
    NOTIFY = "notify"
    """Over the limit, and the first such update of a throttle period: told to send it again later."""
    IGNORE = "ignore"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float
    """When `tokens` was last brought up to date (the clock's seconds)."""
    warned: bool = False
    """Whether this throttle period's "send it again in a moment" reply was sent."""


class FloodBuckets:
    """A token bucket per chat, in memory, bounded in number and in time."""

    def __init__(
        self,
        burst: int,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_chats: int = MAX_CHATS,
    ) -> None:
        """`burst` updates at once, refilled at `per_second`; both must be positive."""
        if burst < 1 or per_second <= 0:
            raise ValueError("a flood bucket needs burst >= 1 and per_second > 0")
        self._burst = float(burst)
        self._rate = per_second
        self._clock = clock
        self._max_chats = max_chats
        # Least recently seen first; since every bucket refills at the same rate, the front
        # buckets are the first to be full again, so they can be dropped from there.
        self._buckets: OrderedDict[int, _Bucket] = OrderedDict()
        self._refill_seconds = self._burst / self._rate

    def take(self, chat_id: int) -> bool:
        """Take a token for one update of this chat: True when it may be answered."""
        now = self._clock()
        self._drop_full(now)
        bucket = self._buckets.get(chat_id)
        if bucket is None:
            bucket = self._buckets[chat_id] = _Bucket(self._burst, now)
            if len(self._buckets) > self._max_chats:
                self._buckets.popitem(last=False)
        else:
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) * self._rate)
            bucket.at = now
            self._buckets.move_to_end(chat_id)
            if bucket.tokens >= self._burst:
                bucket.warned = False  # it calmed down long enough: a new period starts
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return True
        return False

    def first_excess(self, chat_id: int) -> bool:
        """Whether the chat is over its limit and not yet told so in this throttle period (then it is)."""
        bucket = self._buckets.get(chat_id)
        if bucket is None or bucket.warned or bucket.tokens >= 1:
            return False
        bucket.warned = True
        return True

    def __len__(self) -> int:
        """How many chats have a bucket (that is not full) right now."""
        return len(self._buckets)

    def _drop_full(self, now: float) -> None:
        """Forget the buckets that have refilled completely: they are as good as new ones."""
        while self._buckets:
            bucket = next(iter(self._buckets.values()))
            if now - bucket.at < self._refill_seconds:
                return
            self._buckets.popitem(last=False)


class FloodGuard:
    """Decides, before an update is answered, whether its chat is over its limit, and deals with it."""

    def __init__(
        self,
        buckets: FloodBuckets,
        engine: Callable[[], Engine],
        catalogs: Catalogs,
        metrics: BotMetrics | None = None,
        acute: FloodBuckets | None = None,
    ) -> None:
        """Throttle with `buckets`, acute messages over it with `acute`; `engine` tells acute
        messages and the languages on offer."""
        self._buckets = buckets
        self._acute = acute if acute is not None else FloodBuckets(ACUTE_BURST, ACUTE_PER_SECOND)
        self._engine = engine
        self._catalogs = catalogs
        self._metrics = metrics

    @classmethod
    def from_settings(
        cls,
        settings: ServeSettings,
        engine: Callable[[], Engine],
        catalogs: Catalogs,
        metrics: BotMetrics | None = None,
    ) -> FloodGuard | None:
        """The guard FLOOD_BURST and FLOOD_PER_SECOND ask for; None when either is 0 (disabled)."""
        if settings.flood_burst == 0 or settings.flood_per_second == 0:
            return None
        return cls(FloodBuckets(settings.flood_burst, settings.flood_per_second), engine, catalogs, metrics)

    def judge(self, incoming: Incoming) -> Verdict:
        """Whether to answer the update, decided as it arrives (not once it has waited its turn).

        Decided on arrival, the limit counts what the chat sent; decided after the update waited
        behind the chat's earlier ones (whose replies Telegram's own limit of about one message a
        second in a chat slows down), it would count how fast the bot could answer instead.
        """
        if self._buckets.take(incoming.chat_id):
            return Verdict.ANSWER
        event = incoming.event
        if (
            isinstance(event, FreeText)
            and self._engine().is_acute(event.text)
            and self._acute.take(incoming.chat_id)
        ):
            self._count("acute_answered")  # someone in danger is not kept waiting
            return Verdict.ANSWER
        if isinstance(event, Command):
            # /slett, /avbryt and the rest are few and deliberate: a frightened person who typed fast
            # and then asks to delete everything must never be met by silence.
            self._count("command_answered")
            return Verdict.ANSWER
        if isinstance(event, ButtonPress) and isinstance(callbacks.parse(event.data), callbacks.QuickExit):
            # Someone hiding the chat in a hurry may have tapped fast before: the exit always works.
            self._count("quick_exit_answered")
            return Verdict.ANSWER
        if self._buckets.first_excess(incoming.chat_id):
            self._count("notified")
            return Verdict.NOTIFY
        self._count("ignored")
        return Verdict.IGNORE

    async def turn_away(self, bot: Bot, incoming: Incoming, verdict: Verdict) -> None:
        """A throttled update: its button's spinner stops; the first of a throttle period gets a notice."""
        if incoming.callback_query_id is not None:
            try:
                await stop_spinner(bot, incoming.callback_query_id)
            except TelegramError as error:  # a throttled update is not delivered again: no reason to fail
                log.info("a throttled button press could not be answered (%s)", type(error).__name__)
        if verdict is Verdict.NOTIFY:
            await self._notify(bot, incoming)

    async def _notify(self, bot: Bot, incoming: Incoming) -> None:
        """The one reply of a throttle period, in the language of the reader's Telegram app."""
        # The chat's own language choice is in the database, which a throttled update does not touch.
        scripts = self._engine().scripts
        lang = choose_language(incoming.language_code, scripts)
        _ = self._catalogs.get(lang).gettext
        police = html.escape(scripts.facts.display("emergency.police", lang, self._catalogs), quote=False)
        text = "\n\n".join(
            (
                _(
                    "Many messages arrived at once, so I could not answer all of them. Please wait a few "
                    "seconds and send your question again, and I will answer it."
                ),
                _("If you or someone else is in danger now, call {police}.").format(
                    police=f"<b>{police}</b>"
                ),
            )
        )
        try:
            await send_replies(bot, incoming.chat_id, (Reply(text),), edit_message_id=None)
        except TelegramError as error:  # the update goes unanswered either way; no redelivery for this
            log.warning("the flood notice could not be sent (%s)", type(error).__name__)

    def _count(self, action: str) -> None:
        if self._metrics is not None:
            self._metrics.flood_throttled.labels(action=action).inc()
