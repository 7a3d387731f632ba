"""One turn of a preview chat: the engine answers, and the answer is shaped as the page shows it.

It follows the Telegram adapter's rule (bot/engine/showing.py): a press on the newest bot message
edits that message in place; /slett forgets the chat and clears its messages. Nothing is ever
delivered: a completed interest form only becomes a note for the staff member.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.content.telegram_html import page_html
from bot.engine.engine import Engine
from bot.engine.model import (
    Command,
    Event,
    Reply,
    SetAutoDelete,
    SubmitLead,
)
from bot.engine.showing import how_to_show
from bot.staff.preview.sessions import Session
from bot.staff_words import marked, say
from bot.web.render import page_buttons

# Notes for the staff member, said in the staff language when shown.
LEAD_NOTE = marked("The interest form would now be sent to staff (the preview never sends it).")
FORGOT_NOTE = marked("The chat was forgotten, as /slett does on Telegram.")
AUTO_DELETE_NOTE = marked("On Telegram the conversation would now be deleted by itself after {seconds} s.")
AUTO_DELETE_OFF_NOTE = marked("On Telegram the conversation would no longer be deleted by itself.")


@dataclass(frozen=True)
class ShownReply:
    """A bot message as the page draws it."""

    id: int
    html: str
    buttons: tuple[tuple[dict[str, str], ...], ...]
    node: str | None
    replaces: int | None = None
    """The message this one edits in place, or None for a new message."""

    def as_json(self) -> dict[str, object]:
        """The reply for the JSON API."""
        return {
            "id": self.id,
            "html": self.html,
            "buttons": [list(row) for row in self.buttons],
            "node": self.node,
            "replaces": self.replaces,
        }


@dataclass(frozen=True)
class Turn:
    """What one event produced, for the page."""

    replies: tuple[ShownReply, ...]
    node: str | None
    """The node to highlight in the flow chart."""
    lang: str
    notes: tuple[str, ...] = ()
    forgot: bool = False

    def as_json(self, version: str) -> dict[str, object]:
        """The body of the /api/chat answer."""
        return {
            "replies": [r.as_json() for r in self.replies],
            "node": self.node,
            "lang": self.lang,
            "notes": list(self.notes),
            "forgot": self.forgot,
            "version": version,
        }


def take_turn(
    engine: Engine, session: Session, event: Event, now: dt.datetime, pressed: int | None = None
) -> Turn:
    """Let the engine answer `event` and update the session as the Telegram adapter would."""
    outcome = engine.handle(session.state, event, now)
    notes = tuple(say(LEAD_NOTE) for effect in outcome.effects if isinstance(effect, SubmitLead))
    for effect in outcome.effects:
        if isinstance(effect, SetAutoDelete):  # the preview never deletes anything by itself
            after = effect.after
            notes = (
                *notes,
                say(AUTO_DELETE_OFF_NOTE)
                if after is None
                else say(AUTO_DELETE_NOTE, seconds=int(after.total_seconds())),
            )
    showing = how_to_show(event, outcome, pressed=pressed, newest=session.last_bot_message)
    session.state = showing.state
    if showing.forget:
        session.last_bot_message = None
        notes = (*notes, say(FORGOT_NOTE))
    shown = []
    for index, reply in enumerate(outcome.replies):
        replaces = showing.edit if index == 0 else None
        message_id = replaces if replaces is not None else session.new_message_id()
        shown.append(_shown(reply, message_id, replaces))
    if shown:
        session.last_bot_message = shown[-1].id
    node = next((r.node for r in reversed(outcome.replies) if r.node), None) or session.state.node
    return Turn(tuple(shown), node, session.state.lang, notes, showing.forget)


def restart(engine: Engine, session: Session, now: dt.datetime) -> Turn:
    """A fresh chat's first turn: /start, as a new reader's Telegram app sends it."""
    return take_turn(engine, session, Command("start"), now)


def _shown(reply: Reply, message_id: int, replaces: int | None) -> ShownReply:
    return ShownReply(
        message_id,
        page_html(reply.text),
        page_buttons(reply),
        reply.node,
        replaces,
    )
