"""The engine's vocabulary: chat state, incoming events, outgoing replies and side effects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Literal

from bot.content.scripts import SOURCE_LANGUAGE
from bot.engine.form import InterestForm


@dataclass(frozen=True)
class ChatState:
    """Everything the bot remembers about a chat between messages (nothing that identifies it)."""

    node: str | None = None
    lang: str = SOURCE_LANGUAGE
    form: InterestForm | None = None
    """An organisation's interest form being filled in, if any."""

    def at(self, node: str | None) -> ChatState:
        """The same chat, now at `node`."""
        return replace(self, node=node)


@dataclass(frozen=True)
class Command:
    """A /command, without the slash (e.g. 'start')."""

    name: str


@dataclass(frozen=True)
class ButtonPress:
    """An inline button was pressed; `data` is its callback data as Telegram returned it."""

    data: str | None


@dataclass(frozen=True)
class FreeText:
    """A text message typed by the user."""

    text: str


@dataclass(frozen=True)
class NonText:
    """Something the bot cannot read: a sticker, a photo, a voice message, an edited message …"""

    kind: str


Event = Command | ButtonPress | FreeText | NonText


@dataclass(frozen=True)
class Button:
    """A button under a reply: it either sends callback data back or opens a web address."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Reply:
    """One message to send, in Telegram HTML, with its inline keyboard (rows of buttons)."""

    text: str
    keyboard: tuple[tuple[Button, ...], ...] = ()
    node: str | None = None


@dataclass(frozen=True)
class ForgetChat:
    """Delete everything stored about this chat, and the messages that can still be deleted."""


@dataclass(frozen=True)
class SubmitLead:
    """Put an organisation's completed interest form in the outbox for staff."""

    form: InterestForm
    lang: str


@dataclass(frozen=True)
class SetAutoDelete:
    """Delete the conversation by itself `after` from now, as ForgetChat does; None: not any more."""

    after: dt.timedelta | None


Effect = ForgetChat | SubmitLead | SetAutoDelete

RouteKind = Literal["node", "acute", "ambiguous", "fallback"]


@dataclass(frozen=True)
class Outcome:
    """What handling one event produced: replies to send, the new state and side effects."""

    replies: tuple[Reply, ...]
    state: ChatState
    effects: tuple[Effect, ...] = ()
    route: RouteKind | None = None
    nodes: tuple[str, ...] = field(default=())
