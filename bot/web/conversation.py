"""One web chat message in one conversation: the same turn path as a Telegram update, minus Telegram.

A web conversation is stored like a Telegram chat, under a keyed pseudonym of the page's random
session id (`Pseudonymizer.web_chat_key`), and each message the page sends carries a turn id of the
page's choosing, so the turn is exactly once (`ChatTurns`, with `Pseudonymizer.web_turn_id` as the
update id): a message sent again after a lost connection is not answered twice. The answer of a
recent turn is kept in this process's memory only (never in the database), so that resend gets it
again; on another replica, or once forgotten, the resend gets no answer rather than a second one.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.content.scripts import Scripts
from bot.engine.engine import Engine, choose_language
from bot.engine.model import ChatState, Command, Event, ForgetChat, Reply, SubmitLead
from bot.stats.counter import StatsCounter
from bot.storage.pseudonym import Pseudonymizer
from bot.storage.store import StoredChat
from bot.storage.turns import ChatTurns
from bot.telegram.conversations import LeadInbox

log = logging.getLogger(__name__)
REMEMBERED_ANSWERS = 2_000  # recent answers a resent message can get again (memory only)


@dataclass(frozen=True)
class WebAnswer:
    """What one web message got: the replies, the chat's language after it, and whether it was forgotten."""

    replies: tuple[Reply, ...]
    lang: str
    forgot: bool = False
    replayed: bool = False
    """The message was answered before (a resend): these are that answer's replies, not new ones."""


class WebConversations:
    """The web adapter's core, on the same turns, pseudonyms, outbox and statistics as Telegram's."""

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
        # update id → (chat key, answer); the key only so a quick exit can drop its chat's answers.
        self._answers: OrderedDict[int, tuple[str, WebAnswer]] = OrderedDict()

    def scripts(self) -> Scripts:
        """The scripts being served now."""
        return self._engine().scripts

    def is_acute(self, text: str) -> bool:
        """Whether a message raises an acute alarm (flood control answers those anyway)."""
        return self._engine().is_acute(text)

    def chat_number(self, session: str) -> int:
        """A number for the conversation in memory (flood buckets, ordering), from its pseudonym."""
        return int(self._pseudonyms.web_chat_key(session)[:15], 16)

    async def answer(self, session: str, turn_id: str, event: Event, lang: str) -> WebAnswer:
        """Answer one message; `lang` (the browser's) chooses the language of a new conversation."""
        engine = self._engine()
        key = self._pseudonyms.web_chat_key(session)
        update_id = self._pseudonyms.web_turn_id(session, turn_id)
        async with self._turns.turn(key, update_id) as turn:
            if turn.done:
                log.info("a web message was answered before (sent again); not answering again")
                earlier = self._answers.get(update_id)
                shown = earlier[1] if earlier is not None else WebAnswer((), lang)
                return replace(shown, replayed=True)
            stored = turn.chat or StoredChat(ChatState(lang=choose_language(lang, engine.scripts.languages)))
            outcome = engine.handle(stored.state, event, self._clock())
            for effect in outcome.effects:
                if isinstance(effect, SubmitLead):
                    await self._submit(effect, update_id)
            forgot = ForgetChat() in outcome.effects
            if forgot:
                await turn.finish(None, self._clock())
                self.drop_answers(key)
            else:
                # No message numbers: a web page has nothing for /slett to delete but the page itself.
                await turn.finish(replace(stored, state=outcome.state), self._clock())
        if self._stats is not None:
            self._stats.record(outcome, self._clock())
        answer = WebAnswer(outcome.replies, outcome.state.lang, forgot)
        if not forgot:
            self._answers[update_id] = (key, answer)
            while len(self._answers) > REMEMBERED_ANSWERS:
                self._answers.popitem(last=False)
        return answer

    async def forget(self, session: str, turn_id: str) -> None:
        """The quick exit: erase the conversation as /slett does, through the same turn path."""
        await self.answer(session, turn_id, Command("slett"), "nb")

    def drop_answers(self, key: str) -> None:
        """Forget the remembered answers of one conversation."""
        for update_id in [u for u, (k, _) in self._answers.items() if k == key]:
            del self._answers[update_id]

    async def _submit(self, lead: SubmitLead, update_id: int) -> None:
        """The completed interest form into the outbox, once per message, before the thanks is shown."""
        if self._leads is None:
            raise RuntimeError("the interest form was sent, but no lead delivery is configured")
        await self._leads.submit(lead, self._clock(), once_per=f"web:{update_id}")
