"""The engine's vocabulary: chat state, incoming events, outgoing replies and side effects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Literal

from bot.content.scripts import SOURCE_LANGUAGE
from bot.engine.form import InterestForm


@dataclass(frozen=True)
class FormsSent:
    """The interest forms one chat sent on one day: a count, nothing about what they said."""

    day: str
    """The day in the adapter's clock (ISO date); empty when the adapter gave no clock."""
    count: int

    def to_json(self) -> dict[str, str | int]:
        """As stored in the chat's row."""
        return {"day": self.day, "count": self.count}

    @classmethod
    def from_json(cls, data: object) -> FormsSent | None:
        """From the chat's row; None for anything that is not a stored count."""
        if not isinstance(data, dict):
            return None
        day, count = data.get("day"), data.get("count")
        if not isinstance(day, str) or not isinstance(count, int) or isinstance(count, bool):
            return None
        return cls(day, count)


@dataclass(frozen=True)
class ChatState:
    """Everything the bot remembers about a chat between messages (nothing that identifies it)."""

    node: str | None = None
    lang: str = SOURCE_LANGUAGE
    form: InterestForm | None = None
    """An organisation's interest form being filled in, if any."""
    forms_sent: FormsSent | None = None
    """How many forms this chat sent today, so one chat cannot flood staff with forms."""

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
class CallbackButton:
    """A button under a reply that sends `data` back when pressed (Telegram's callback data)."""

    text: str
    data: str


@dataclass(frozen=True)
class LinkButton:
    """A button under a reply that opens a web address (http(s) or tg://)."""

    text: str
    url: str


# Every adapter renders a button with `match` ending in `case _: assert_never(button)`, so a new kind
# (a copy-text button, say) is one class here and one `case` per adapter, and mypy names a missing one.
Button = CallbackButton | LinkButton


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
