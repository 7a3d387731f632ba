"""One web chat message in one conversation: the same turn path as a Telegram update, minus Telegram.

A web conversation is stored like a Telegram chat, under a keyed pseudonym of the page's random
session id (`Pseudonymizer.session_key` in WEB_DOMAIN), and each message the page sends carries a
turn id of the page's choosing, so the turn is exactly once (`ChatTurns`, with
`Pseudonymizer.session_turn_id` as the update id): a message sent again after a lost connection is
not answered twice. The answer of a recent turn is kept in this process's memory only (never in
the database), and for at most `ANSWER_KEPT_FOR`, so that resend gets it again; on another replica,
once forgotten, or later, the resend gets no answer rather than a second one.

A conversation that chose to be deleted by itself keeps the time on its row as a Telegram chat does
(with no Telegram chat id beside it): the auto-delete job takes the row then, and the page, told the
time in the answer, clears itself.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.content.scripts import Scripts
from bot.engine.engine import Engine, choose_language
from bot.engine.model import ChatState, Command, Event, ForgetChat, Reply, SetAutoDelete, SubmitLead
from bot.stats.counter import StatsCounter
from bot.storage.pseudonym import Pseudonymizer
from bot.storage.store import StoredChat
from bot.storage.turns import ChatTurns
from bot.telegram.conversations import LeadInbox

log = logging.getLogger(__name__)
# The pseudonyms' domain of web conversations: part of every stored one's key, so never changed.
WEB_DOMAIN = "web"
REMEMBERED_ANSWERS = 2_000  # recent answers a resent message can get again (memory only)…
# …and for this long: a resend comes within seconds, and no answer outlives the shortest auto-delete.
ANSWER_KEPT_FOR = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class WebAnswer:
    """What one web message got: the replies, the chat's language after it, and whether it was forgotten."""

    replies: tuple[Reply, ...]
    lang: str
    forgot: bool = False
    replayed: bool = False
    """The message was answered before (a resend): these are that answer's replies, not new ones."""
    auto_delete_seconds: int | None = None
    """The reader chose just now to have the conversation deleted by itself in this many seconds
    (0: not any more); None when this message did not change it."""


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
        # update id → (chat key, when, answer); the key so a quick exit can drop its chat's answers.
        self._answers: OrderedDict[int, tuple[str, dt.datetime, WebAnswer]] = OrderedDict()

    def scripts(self) -> Scripts:
        """The scripts being served now."""
        return self._engine().scripts

    def is_acute(self, text: str) -> bool:
        """Whether a message raises an acute alarm (flood control answers those anyway)."""
        return self._engine().is_acute(text)

    def chat_number(self, session: str) -> int:
        """A number for the conversation in memory (flood buckets, ordering), from its pseudonym."""
        return int(self._pseudonyms.session_key(WEB_DOMAIN, session)[:15], 16)

    async def answer(self, session: str, turn_id: str, event: Event, lang: str) -> WebAnswer:
        """Answer one message; `lang` (the browser's) chooses the language of a new conversation."""
        engine = self._engine()
        key = self._pseudonyms.session_key(WEB_DOMAIN, session)
        update_id = self._pseudonyms.session_turn_id(WEB_DOMAIN, session, turn_id)
        chosen: int | None = None
        async with self._turns.turn(key, update_id) as turn:
            if turn.done:
                log.info("a web message was answered before (sent again); not answering again")
                earlier = self._answers.get(update_id)
                recent = earlier is not None and self._clock() - earlier[1] <= ANSWER_KEPT_FOR
                shown = earlier[2] if earlier is not None and recent else WebAnswer((), lang)
                return replace(shown, replayed=True)
            stored = turn.chat or StoredChat(ChatState(lang=choose_language(lang, engine.scripts)))
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
                updated = replace(stored, state=outcome.state)
                for effect in outcome.effects:
                    if isinstance(effect, SetAutoDelete):
                        updated = self._auto_delete(updated, effect)
                        chosen = 0 if effect.after is None else int(effect.after.total_seconds())
                await turn.finish(updated, self._clock())
        if self._stats is not None:
            self._stats.record(outcome, self._clock())
        answer = WebAnswer(outcome.replies, outcome.state.lang, forgot, auto_delete_seconds=chosen)
        if not forgot:
            self._remember(update_id, key, answer)
        return answer

    def _auto_delete(self, chat: StoredChat, choice: SetAutoDelete) -> StoredChat:
        """The time the reader chose (nothing sealed beside it: there is nothing on Telegram)."""
        when = None if choice.after is None else self._clock() + choice.after
        return replace(chat, auto_delete_at=when, auto_delete_chat=None)

    def _remember(self, update_id: int, key: str, answer: WebAnswer) -> None:
        """Keep the answer for a resend: the newest REMEMBERED_ANSWERS, none older than ANSWER_KEPT_FOR."""
        now = self._clock()
        self._answers[update_id] = (key, now, answer)
        while self._answers and (
            len(self._answers) > REMEMBERED_ANSWERS
            or now - next(iter(self._answers.values()))[1] > ANSWER_KEPT_FOR
        ):
            self._answers.popitem(last=False)

    async def forget(self, session: str, turn_id: str) -> None:
        """The quick exit: erase the conversation as /slett does, through the same turn path."""
        await self.answer(session, turn_id, Command("slett"), "nb")

    def drop_answers(self, key: str) -> None:
        """Forget the remembered answers of one conversation."""
        for update_id in [u for u, (k, _, _) in self._answers.items() if k == key]:
            del self._answers[update_id]

    async def _submit(self, lead: SubmitLead, update_id: int) -> None:
        """The completed interest form into the outbox, once per message, before the thanks is shown."""
        if self._leads is None:
            raise RuntimeError("the interest form was sent, but no lead delivery is configured")
        await self._leads.submit(lead, self._clock(), once_per=f"web:{update_id}")
