"""Telegram HTML → HTML safe to put in a page (the preview, the web chat), looking as Telegram shows it.

Only Telegram's formatting survives (https://core.telegram.org/bots/api#html-style); every other
tag is dropped with its text kept, and all text is escaped again, so whatever a reply contains —
including what someone typed, echoed back — can never become markup or script in the page.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import assert_never

from bot.engine.model import Button, CallbackButton, LinkButton, Reply

# Telegram's tag → the tag written to the page (strike is obsolete in HTML; s draws the same).
SIMPLE_TAGS = {
    "b": "b",
    "strong": "strong",
    "i": "i",
    "em": "em",
    "u": "u",
    "ins": "ins",
    "s": "s",
    "strike": "s",
    "del": "del",
    "pre": "pre",
}
OUTPUT_TAGS = frozenset({*SIMPLE_TAGS.values(), "a", "code", "blockquote", "span"})
"""Every tag the sanitizer can write; nothing else ever reaches the page."""
OUTPUT_ATTRIBUTES = {
    "a": frozenset({"href", "target", "rel"}),
    "code": frozenset({"class"}),
    "blockquote": frozenset({"class"}),
    "span": frozenset({"class"}),
}
SPOILER_CLASS = "tg-spoiler"
EXPANDABLE_CLASS = "tg-expandable"
LINK_SCHEMES = re.compile(r"^(?:https?|tg)://", re.IGNORECASE)
CODE_LANGUAGE = re.compile(r"^language-[A-Za-z0-9_+#.-]{1,32}$")


@dataclass(frozen=True)
class _Open:
    """A Telegram tag that is open, and what was written for it (None: dropped, so no end tag)."""

    source: str
    written: str | None


class _Sanitizer(HTMLParser):
    """Collects safe HTML while the standard library's lenient parser walks the input."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._open: list[_Open] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Write an allowed tag with only its allowed attributes; remember a dropped one."""
        written, attributes = _translate(tag, {name: value or "" for name, value in attrs})
        self._open.append(_Open(tag, written))
        if written is not None:
            shown = "".join(f' {name}="{html.escape(value, quote=True)}"' for name, value in attributes)
            self.out.append(f"<{written}{shown}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """A self-closing tag (<br/>, say): Telegram has none, so nothing is written."""

    def handle_endtag(self, tag: str) -> None:
        """Close the innermost open tag of this name, and any left open inside it."""
        if not any(o.source == tag for o in self._open):
            return  # a stray end tag: Telegram refuses it, the page simply ignores it
        while self._open:
            closed = self._open.pop()
            if closed.written is not None:
                self.out.append(f"</{closed.written}>")
            if closed.source == tag:
                return

    def handle_data(self, data: str) -> None:
        """Text, with entities already decoded by the parser: escape it again."""
        self.out.append(html.escape(data, quote=False))

    def finish(self) -> str:
        """The safe HTML, with every tag still open closed."""
        self.close()
        while self._open:
            closed = self._open.pop()
            if closed.written is not None:
                self.out.append(f"</{closed.written}>")
        return "".join(self.out)


def _translate(tag: str, attrs: dict[str, str]) -> tuple[str | None, list[tuple[str, str]]]:
    """The page's tag and attributes for one Telegram tag, or None to drop the tag (not its text)."""
    if tag in SIMPLE_TAGS:
        return SIMPLE_TAGS[tag], []
    if tag == "a":
        href = attrs.get("href", "").strip()
        if not LINK_SCHEMES.match(href):
            return None, []  # Telegram refuses other links; javascript: and the like never get through
        return "a", [("href", href), ("target", "_blank"), ("rel", "noopener noreferrer")]
    if tag == "code":
        language = attrs.get("class", "")
        return "code", [("class", language)] if CODE_LANGUAGE.match(language) else []
    if tag == "blockquote":
        return "blockquote", [("class", EXPANDABLE_CLASS)] if "expandable" in attrs else []
    if tag == "tg-spoiler" or (tag == "span" and attrs.get("class") == SPOILER_CLASS):
        return "span", [("class", SPOILER_CLASS)]
    return None, []


def telegram_to_html(text: str) -> str:
    """A reply's Telegram HTML as safe page HTML (line breaks stay newlines; the page keeps them)."""
    sanitizer = _Sanitizer()
    sanitizer.feed(text)
    return sanitizer.finish()


def page_buttons(reply: Reply) -> tuple[tuple[dict[str, str], ...], ...]:
    """The reply's keyboard for a page: rows of {text, url} or {text, callback}; other links dropped."""
    return tuple(
        shown_row
        for row in reply.keyboard
        if (shown_row := tuple(shown for b in row if (shown := page_button(b)) is not None))
    )


def page_button(button: Button) -> dict[str, str] | None:
    """A button for a page: a link opens a page (http(s) and tg:// only, as `check` allows; any other
    is dropped), a callback button sends its data back."""
    match button:
        case CallbackButton(text, data):
            return {"text": text, "callback": data}
        case LinkButton(text, url):
            return {"text": text, "url": url} if LINK_SCHEMES.match(url) else None
        case _:
            assert_never(button)
