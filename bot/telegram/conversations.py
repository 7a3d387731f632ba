"""One update in one chat: load its state, ask the engine, send the replies, store the new state."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Protocol

from telegram import Bot
from telegram.error import BadRequest

from bot.content.scripts import Scripts
from bot.engine.engine import Engine, choose_language
from bot.engine.model import ChatState, Event, ForgetChat, SubmitLead
from bot.storage.pseudonym import Pseudonymizer
from bot.storage.store import ChatStore, StoredChat
from bot.telegram.replies import send_replies, with_network_retries

log = logging.getLogger(__name__)
DELETE_BATCH = 100  # deleteMessages takes at most 100 ids


class LeadInbox(Protocol):
    """Where completed interest forms go (the outbox, delivered to staff by the delivery worker)."""

    async def submit(self, lead: SubmitLead, now: dt.datetime) -> None:
        """Store the lead durably, then wake delivery."""


@dataclass(frozen=True)
class Incoming:
    """What the Telegram adapter knows about an update, beyond the engine's event."""

    chat_id: int
    event: Event
    message_id: int | None = None
    """The user's own message (deleted by /slett along with the bot's)."""
    pressed_message_id: int | None = None
    """The bot message whose button was pressed."""
    callback_query_id: str | None = None
    language_code: str | None = None
    """Telegram's guess of the user's language; chooses the language of a new chat only."""


@dataclass(frozen=True)
class Retention:
    """How long things are kept, from the facts file (so the privacy text and the code agree)."""

    chat: dt.timedelta
    message_ids: dt.timedelta

    @classmethod
    def from_scripts(cls, scripts: Scripts) -> Retention:
        """Read privacy.retention_days and privacy.message_delete_hours."""
        days = scripts.facts.values["privacy.retention_days"]
        hours = scripts.facts.values["privacy.message_delete_hours"]
        if not isinstance(days, int) or not isinstance(hours, int):
            raise TypeError("privacy.retention_days and privacy.message_delete_hours must be whole numbers")
        return cls(dt.timedelta(days=days), dt.timedelta(hours=hours))


class Conversations:
    """The Telegram adapter's core; everything here is about one chat at a time."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        store: ChatStore,
        pseudonyms: Pseudonymizer,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        leads: LeadInbox | None = None,
    ) -> None:
        self._engine = engine
        self._store = store
        self._pseudonyms = pseudonyms
        self._clock = clock
        self._leads = leads

    async def handle(self, bot: Bot, incoming: Incoming) -> tuple[str, ...]:
        """Answer one update; returns the nodes shown (for metrics). Raises when it could not."""
        engine = self._engine()
        retention = Retention.from_scripts(engine.scripts)
        key = self._pseudonyms.chat_key(incoming.chat_id)
        stored = await self._store.load(key) or StoredChat(
            ChatState(lang=choose_language(incoming.language_code, engine.scripts.languages))
        )
        outcome = engine.handle(stored.state, incoming.event, self._clock())
        if incoming.callback_query_id is not None:
            await _answer_callback(bot, incoming.callback_query_id)
        for effect in outcome.effects:
            if isinstance(effect, SubmitLead):
                await self._submit(effect)
        if ForgetChat() in outcome.effects:
            await self._forget(bot, key, incoming, retention)
            await send_replies(bot, incoming.chat_id, outcome.replies, edit_message_id=None)
            return outcome.nodes
        editable = (
            incoming.pressed_message_id if incoming.pressed_message_id == stored.last_bot_message_id else None
        )
        sent = await send_replies(bot, incoming.chat_id, outcome.replies, edit_message_id=editable)
        now = self._clock()
        own = [incoming.message_id] if incoming.message_id is not None else []
        updated = replace(stored, state=outcome.state).remember(
            own + sent, now, retention.message_ids, sent[-1] if sent else None
        )
        await self._store.save(key, updated, now)
        return outcome.nodes

    async def _submit(self, lead: SubmitLead) -> None:
        """Put a completed interest form in the outbox before the reader is told it was received."""
        if self._leads is None:
            raise RuntimeError("the interest form was sent, but no lead delivery is configured")
        await self._leads.submit(lead, self._clock())

    async def _forget(self, bot: Bot, key: str, incoming: Incoming, retention: Retention) -> None:
        """Delete the stored chat, then every message Telegram still lets the bot delete."""
        forgotten = await self._store.forget(key)
        oldest = int((self._clock() - retention.message_ids).timestamp())
        ids = sorted({m for m, at in (forgotten.messages if forgotten else ()) if at >= oldest})
        if incoming.message_id is not None:
            ids.append(incoming.message_id)
        for start in range(0, len(ids), DELETE_BATCH):
            batch = ids[start : start + DELETE_BATCH]
            try:
                await with_network_retries(partial(bot.delete_messages, incoming.chat_id, batch))
            except BadRequest as error:
                # Some were already deleted by the user, or too old; the rest were deleted.
                log.info("some messages could not be deleted: %s", error.message)
        log.info("a chat was forgotten on request (%d messages deleted)", len(ids))


async def _answer_callback(bot: Bot, query_id: str) -> None:
    """Stop the button's loading spinner; an expired query is no reason to fail the update."""
    try:
        await with_network_retries(lambda: bot.answer_callback_query(query_id))
    except BadRequest as error:
        log.info("callback query could not be answered: %s", error.message)
