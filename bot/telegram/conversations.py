"""One update in one chat: load its state, ask the engine, send the replies, store the new state."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from telegram import Bot
from telegram.error import BadRequest

from bot.content.scripts import Scripts
from bot.engine.engine import Engine, choose_language
from bot.engine.model import ChatState, Event, Outcome, SetAutoDelete, SubmitLead
from bot.engine.showing import how_to_show
from bot.logs import telegram_error
from bot.stats.counter import StatsCounter
from bot.storage.pseudonym import Pseudonymizer
from bot.storage.store import StoredChat
from bot.storage.turns import ChatTurns
from bot.telegram.replies import send_replies, stop_spinner

log = logging.getLogger(__name__)
DELETE_BATCH = 100  # deleteMessages takes at most 100 ids


class LeadInbox(Protocol):
    """Where completed interest forms go (the outbox, delivered to staff by the delivery worker)."""

    async def submit(self, lead: SubmitLead, now: dt.datetime, once_per: str | None = None) -> None:
        """Store the lead durably (once per `once_per`), then wake delivery."""


@dataclass(frozen=True)
class Incoming:
    """What the Telegram adapter knows about an update, beyond the engine's event."""

    chat_id: int
    event: Event
    update_id: int = 0
    """Telegram's number for the update: a redelivered update is answered once."""
    message_id: int | None = None
    """The user's own message (deleted by /slett along with the bot's)."""
    pressed_message_id: int | None = None
    """The bot message whose button was pressed."""
    callback_query_id: str | None = None
    language_code: str | None = None
    """Telegram's guess of the user's language; chooses the language of a new chat only."""


@dataclass(frozen=True)
class Retention:
    """How long things are kept: the facts file's privacy.* figures, which /personvern shows too.

    The one place the code reads them, so what the privacy text says and what is deleted cannot
    drift apart (tests/content/test_privacy_figures.py compares them).
    """

    chat: dt.timedelta
    """A chat unused this long is deleted (privacy.retention_days)."""
    message_ids: dt.timedelta
    """Message numbers are kept this long, for /slett (privacy.message_delete_hours)."""
    leads: dt.timedelta = dt.timedelta(days=30)
    """A delivered lead's record (its answers deleted on delivery) is kept this long, so it is
    not sent twice (privacy.leads_retention_days)."""
    stats: dt.timedelta = dt.timedelta(days=400)
    """The anonymous daily counts are kept this long (privacy.stats_retention_days)."""
    leads_undelivered: dt.timedelta = dt.timedelta(days=7)
    """A lead no channel accepted is deleted this long after it was sent (privacy.leads_undelivered_days)."""
    form_abandoned: dt.timedelta = dt.timedelta(hours=6)
    """An unfinished form untouched this long is emptied (privacy.form_abandoned_hours)."""

    @classmethod
    def from_scripts(cls, scripts: Scripts) -> Retention:
        """The privacy.* figures of the facts file (whole numbers, as `check` insists)."""
        keys = (
            "privacy.retention_days",
            "privacy.message_delete_hours",
            "privacy.leads_retention_days",
            "privacy.stats_retention_days",
            "privacy.leads_undelivered_days",
            "privacy.form_abandoned_hours",
        )
        figures = [scripts.facts.values.get(key) for key in keys]
        numbers = [f for f in figures if isinstance(f, int) and not isinstance(f, bool)]
        if len(numbers) != len(keys):
            raise TypeError(f"{', '.join(keys)} must be whole numbers")
        chat_days, message_hours, lead_days, stats_days, undelivered_days, form_hours = numbers
        return cls(
            dt.timedelta(days=chat_days),
            dt.timedelta(hours=message_hours),
            dt.timedelta(days=lead_days),
            dt.timedelta(days=stats_days),
            dt.timedelta(days=undelivered_days),
            dt.timedelta(hours=form_hours),
        )


class Conversations:
    """The Telegram adapter's core; everything here is about one chat at a time."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        turns: ChatTurns,
        pseudonyms: Pseudonymizer,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        leads: LeadInbox | None = None,
        stats: StatsCounter | None = None,
    ) -> None:
        self._engine = engine
        self._turns = turns
        self._pseudonyms = pseudonyms
        self._clock = clock
        self._leads = leads
        self._stats = stats

    async def handle(self, bot: Bot, incoming: Incoming) -> tuple[str, ...]:
        """Answer one update; returns the nodes shown (for metrics). Raises when it could not."""
        engine = self._engine()
        retention = Retention.from_scripts(engine.scripts)
        key = self._pseudonyms.chat_key(incoming.chat_id)
        async with self._turns.turn(key, incoming.update_id) as turn:
            if turn.done:
                log.info(
                    "update %d was answered before (redelivered); not answering again", incoming.update_id
                )
                return ()
            stored = turn.chat or StoredChat(
                ChatState(lang=choose_language(incoming.language_code, engine.scripts))
            )
            outcome = engine.handle(stored.state, incoming.event, self._clock())
            if incoming.callback_query_id is not None and not turn.sent:
                await stop_spinner(bot, incoming.callback_query_id)
            for effect in outcome.effects:
                if isinstance(effect, SubmitLead):
                    await self._submit(effect, incoming.update_id)
            showing = how_to_show(
                incoming.event,
                outcome,
                pressed=incoming.pressed_message_id,
                newest=stored.last_bot_message_id,
            )
            if showing.forget:
                # Forgotten first: a failed confirmation must not keep what the reader asked to delete.
                await turn.finish(None, self._clock())
                await self._delete_messages(bot, stored, incoming, retention)
                await send_replies(bot, incoming.chat_id, outcome.replies, edit_message_id=None)
                self._count(outcome)
                return outcome.nodes
            sent = await send_replies(
                bot,
                incoming.chat_id,
                outcome.replies,
                edit_message_id=showing.edit,
                already_sent=turn.sent,
                record_sent=turn.record_sent,
            )
            now = self._clock()
            own = [incoming.message_id] if incoming.message_id is not None else []
            updated = replace(stored, state=showing.state).remember(
                own + sent, now, retention.message_ids, sent[-1] if sent else None
            )
            for effect in outcome.effects:
                if isinstance(effect, SetAutoDelete):
                    updated = self._auto_delete(updated, effect, incoming.chat_id, key, now)
            await turn.finish(updated, now)
        self._count(outcome)
        return outcome.nodes

    def _auto_delete(
        self, chat: StoredChat, choice: SetAutoDelete, chat_id: int, key: str, now: dt.datetime
    ) -> StoredChat:
        """The time the reader chose, and where to delete then (sealed); both gone when turned off."""
        if choice.after is None:
            return replace(chat, auto_delete_at=None, auto_delete_chat=None)
        return replace(
            chat, auto_delete_at=now + choice.after, auto_delete_chat=self._pseudonyms.seal(chat_id, key)
        )

    def _count(self, outcome: Outcome) -> None:
        """Anonymous statistics, once the update is fully answered (a redelivery is not counted twice)."""
        if self._stats is not None:  # counts only: which nodes were shown, and fallbacks
            self._stats.record(outcome, self._clock())

    async def _submit(self, lead: SubmitLead, update_id: int) -> None:
        """Put a completed interest form in the outbox before the reader is told it was received."""
        if self._leads is None:
            raise RuntimeError("the interest form was sent, but no lead delivery is configured")
        fingerprint = hashlib.sha256(json.dumps(lead.form.to_json(), sort_keys=True).encode()).hexdigest()
        await self._leads.submit(lead, self._clock(), once_per=f"{update_id}:{fingerprint[:16]}")

    async def _delete_messages(
        self, bot: Bot, forgotten: StoredChat, incoming: Incoming, retention: Retention
    ) -> None:
        """Delete every message of the forgotten chat that Telegram still lets the bot delete."""
        ids = deletable(forgotten, self._clock(), retention)
        if incoming.message_id is not None:
            ids.append(incoming.message_id)
        deleted = await delete_messages(bot, incoming.chat_id, ids)
        log.info("a chat was forgotten on request (%d of %d messages deleted)", deleted, len(ids))


def deletable(chat: StoredChat, now: dt.datetime, retention: Retention) -> list[int]:
    """The chat's messages young enough for Telegram to let the bot delete them, oldest first."""
    oldest = int((now - retention.message_ids).timestamp())
    return sorted({m for m, at in chat.messages if at >= oldest})


async def delete_messages(bot: Bot, chat_id: int, ids: list[int]) -> int:
    """Delete `ids` in one chat, at most 100 a call; returns how many were in calls Telegram accepted.

    Telegram refuses a whole call when one message in it can no longer be deleted (older than 48
    hours by its clock, which may differ from ours by a little): such a batch is halved until the
    ones it refuses stand alone, so every message that can be deleted is.
    """
    deleted = 0
    pending = [ids[start : start + DELETE_BATCH] for start in range(0, len(ids), DELETE_BATCH)]
    while pending:
        batch = pending.pop(0)
        try:
            await bot.delete_messages(chat_id, batch)
        except BadRequest as error:
            if len(batch) > 1:
                half = len(batch) // 2
                pending[:0] = [batch[:half], batch[half:]]
            else:  # already deleted by the reader, or too old: nothing more to do for this one
                log.info("a message could not be deleted: %s", telegram_error(error))
            continue
        deleted += len(batch)
    return deleted
