"""How every adapter shows an outcome: edit the newest message in place or send anew; forget the chat.

One rule for the Telegram adapter, the terminal and the staff preview, so that the preview shows
what Telegram would: a press on the chat's newest bot message replaces that message with the first
reply (the conversation above still reads as it happened); anything else is sent as new messages.
A forgotten chat (ForgetChat) has no message left to edit and starts afresh in its language.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.model import ButtonPress, ChatState, Event, ForgetChat, Outcome


@dataclass(frozen=True)
class Showing:
    """What an adapter does with one outcome."""

    state: ChatState
    """The state the chat goes on with."""
    forget: bool
    """Delete what is stored about the chat, and the messages that can still be deleted, first."""
    edit: int | None
    """The message the first reply replaces in place; None: every reply is a new message."""


def how_to_show(event: Event, outcome: Outcome, *, pressed: int | None, newest: int | None) -> Showing:
    """The rule for `outcome`, answering `event` pressed on message `pressed` (newest: the chat's last)."""
    if ForgetChat() in outcome.effects:
        return Showing(ChatState(lang=outcome.state.lang), forget=True, edit=None)
    on_newest = isinstance(event, ButtonPress) and pressed is not None and pressed == newest
    return Showing(outcome.state, forget=False, edit=pressed if on_newest else None)
