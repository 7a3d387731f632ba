"""The bodies of the preview's POST /api/chat and the web chat's turns, validated before the engine."""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.content.models import LanguageCode
from bot.engine.engine import MAX_TEXT_CHARS
from bot.engine.model import ButtonPress, Command, Event, FreeText

SESSION_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"


class ChatEvent(BaseModel):
    """What the staff member did: typed text, a /command, a button press, or restart."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["text", "command", "press", "restart"]
    value: str = Field(default="", max_length=MAX_TEXT_CHARS)
    message: int | None = Field(default=None, ge=1)
    """For a press: the bot message whose button it was (the newest one is edited in place)."""


class ChatRequest(BaseModel):
    """One turn in one tab's chat."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session: str = Field(pattern=SESSION_PATTERN)
    lang: LanguageCode = "nb"
    """The language of a new (or restarted) chat; the chat itself may change it with /sprak.
    Which languages there are, the served scripts say (languages.yaml)."""
    event: ChatEvent


class ChatRequestError(ValueError):
    """The body is not a valid chat request; the message says what is wrong, for a 400."""


def parse_chat_request(body: object) -> ChatRequest:
    """Validate decoded JSON as a chat request."""
    try:
        return ChatRequest.model_validate(body)
    except ValidationError as error:
        raise ChatRequestError(describe(error)) from None


def describe(error: ValidationError) -> str:
    """The problems in one line, each with where in the body it is."""
    return "; ".join(
        f"{'.'.join(str(p) for p in detail['loc']) or 'body'}: {detail['msg']}" for detail in error.errors()
    )


def engine_event(event: ChatEvent) -> Event:
    """The engine's event for a typed text, command or press (restart is the preview's own)."""
    match event.kind:
        case "text":
            if not event.value.strip():
                raise ChatRequestError("event.value: an empty message cannot be sent")
            return FreeText(event.value)
        case "command":
            return Command(command_name(event.value))
        case _:
            return ButtonPress(event.value)


def command_name(typed: str) -> str:
    """`/start@balansebot now` → `start`, as Telegram and the terminal read a command."""
    words = typed.strip().removeprefix("/").split()
    name = words[0].split("@")[0].lower() if words else ""
    if not name:
        raise ChatRequestError("event.value: a command needs a name, such as start")
    return name


TURN_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
Model = TypeVar("Model", bound=BaseModel)


class WebEvent(ChatEvent):
    """What a web chat reader did: typed text, a /command or a button press."""

    kind: Literal["text", "command", "press"]


class WebTurnRequest(BaseModel):
    """One message in a web conversation, with the turn id the page chose for it (a resend keeps it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session: str = Field(pattern=SESSION_PATTERN)
    turn: str = Field(pattern=TURN_PATTERN)
    lang: LanguageCode = "nb"
    """The browser's language: chooses the language of a new conversation only."""
    event: WebEvent


class WebExitRequest(BaseModel):
    """The quick exit: the conversation to erase."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session: str = Field(pattern=SESSION_PATTERN)


def parse_model(model: type[Model], body: object) -> Model:
    """Validate decoded JSON as `model`; ChatRequestError says what is wrong."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise ChatRequestError(describe(error)) from None
