"""What a button sends back when pressed (Telegram's callback_data, at most 64 bytes).

The format is versioned by its prefix so that buttons on old messages still mean something
after the scripts change: an unknown node simply leads to the menu.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.content.telegram_html import MAX_CALLBACK_BYTES, MIN_CALLBACK_BYTES

_GOTO = "n:"
_LANGUAGE = "l:"
_FORM = "f:"
_QUICK_EXIT = "x"
_AUTO_DELETE = "a:"


@dataclass(frozen=True)
class GotoNode:
    """Open a node."""

    node_id: str


@dataclass(frozen=True)
class UnknownButton:
    """Callback data we do not understand (forged, or from a far older version)."""


@dataclass(frozen=True)
class ChooseLanguage:
    """Switch the chat to another language."""

    lang: str


@dataclass(frozen=True)
class FormChoice:
    """A button of the interest form (an answer, or send/change/cancel)."""

    value: str


@dataclass(frozen=True)
class QuickExit:
    """Hide the conversation at once: delete it, and leave one neutral message."""


@dataclass(frozen=True)
class AutoDelete:
    """Delete the conversation by itself this many seconds from now (0: not by itself any more)."""

    seconds: int


Press = GotoNode | ChooseLanguage | FormChoice | QuickExit | AutoDelete | UnknownButton


def goto(node_id: str) -> str:
    """Callback data for a button that opens `node_id`."""
    return f"{_GOTO}{node_id}"


def language(lang: str) -> str:
    """Callback data for a button that switches to `lang`."""
    return f"{_LANGUAGE}{lang}"


def form(value: str) -> str:
    """Callback data for a button of the interest form."""
    return f"{_FORM}{value}"


def quick_exit() -> str:
    """Callback data for the quick exit."""
    return _QUICK_EXIT


def auto_delete(seconds: int) -> str:
    """Callback data for an auto-delete choice (0: off)."""
    return f"{_AUTO_DELETE}{seconds}"


def parse(data: str | None) -> Press:
    """Read callback data from Telegram; anything odd becomes UnknownButton."""
    if data == _QUICK_EXIT:
        return QuickExit()
    if (
        data
        and data.startswith(_AUTO_DELETE)
        and re.fullmatch(r"0|[1-9][0-9]{0,8}", data[len(_AUTO_DELETE) :])
    ):
        return AutoDelete(int(data[len(_AUTO_DELETE) :]))
    if data and data.startswith(_FORM) and re.fullmatch(r"[a-z_:]{1,40}", data[len(_FORM) :]):
        return FormChoice(data[len(_FORM) :])
    # Any language code; the engine answers only for a language it has scripts in.
    if data and data.startswith(_LANGUAGE) and re.fullmatch(r"[a-z]{2,3}", data[len(_LANGUAGE) :]):
        return ChooseLanguage(data[len(_LANGUAGE) :])
    if data and data.startswith(_GOTO) and fits(data):
        node_id = data[len(_GOTO) :]
        if node_id.isascii() and node_id.replace("_", "").isalnum() and node_id.islower():
            return GotoNode(node_id)
    return UnknownButton()


def fits(data: str) -> bool:
    """True when Telegram accepts this callback data (1–64 bytes of UTF-8)."""
    try:
        size = len(data.encode())
    except UnicodeEncodeError:  # a lone surrogate, which a forged update's JSON can carry ("\udc00")
        return False
    return MIN_CALLBACK_BYTES <= size <= MAX_CALLBACK_BYTES
