"""Forgiving comparison of what staff wrote with what the bot showed: case, spacing, dashes, quotes."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.content.telegram_html import check as html_problem
from bot.content.telegram_html import visible_text
from bot.engine.model import Button

_DASHES = re.compile("[\u2010-\u2015\u2212]")
# Norwegian texts use «» and typographic quotes; staff type " and ' on the keyboard.
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})


def matching_buttons(wanted: str, buttons: Sequence[Button]) -> list[Button]:
    """The button with exactly this text, else every button whose text contains it (forgiving)."""
    key = fold_wanted(wanted)
    exact = [b for b in buttons if fold(b.text) == key]
    return exact or [b for b in buttons if key in fold(b.text)]


def fold_wanted(text: str) -> str:
    """What staff wrote, folded; HTML tags they copied from a script are ignored too."""
    return fold(visible_text(text) if "<" in text and html_problem(text) is None else text)


def fold(text: str) -> str:
    """For forgiving comparison: case, spacing and the kind of dash or quote do not matter."""
    return " ".join(_DASHES.sub("-", text.translate(_QUOTES)).casefold().split())
