"""Telegram's HTML subset: check text the way the Bot API parses it, and strip it to plain text.

Telegram rejects a whole message when its HTML has one wrong tag, so scripts are checked against
the same rules before they reach anyone (https://core.telegram.org/bots/api#html-style).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Literal

from bot.staff_words import say

ALLOWED_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    }
)
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*>"
)
_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")


@dataclass(frozen=True)
class HtmlProblem:
    """Where in the text Telegram would stop parsing, and why."""

    offset: int
    message: str
    hint: str


@dataclass(frozen=True)
class Token:
    """A piece of parsed HTML: visible text, or a start or end tag with its attributes."""

    kind: Literal["text", "start", "end"]
    value: str
    attrs: tuple[tuple[str, str], ...] = ()


def tokenize(text: str) -> tuple[list[Token], HtmlProblem | None]:
    """Split Telegram HTML into tokens; stop at the first thing Telegram would refuse."""
    tokens: list[Token] = []
    open_tags: list[tuple[str, int]] = []
    buffer: list[str] = []
    pos = 0

    def flush() -> None:
        if buffer:
            tokens.append(Token("text", "".join(buffer)))
            buffer.clear()

    while pos < len(text):
        char = text[pos]
        if char == "&":
            match = _ENTITY.match(text, pos)
            decoded = _decode_entity(match) if match else None
            if match is None or decoded is None:
                return tokens, HtmlProblem(
                    pos,
                    say("a bare `&` that does not start &amp; &lt; &gt; or &quot;"),
                    say("write `&amp;` for the character &."),
                )
            buffer.append(decoded)
            pos = match.end()
            continue
        if char != "<":
            buffer.append(char)
            pos += 1
            continue
        match = _TAG.match(text, pos)
        if match is None:
            return tokens, HtmlProblem(
                pos, say("a bare `<` that does not start a tag"), say("write `&lt;` for the character <.")
            )
        closing, name, raw_attrs = match.group(1) == "/", match.group(2).lower(), match.group(3)
        if name not in ALLOWED_TAGS:
            return tokens, HtmlProblem(
                pos, say("Telegram does not support the tag <{name}>", name=name), _unsupported_hint(name)
            )
        flush()
        if closing:
            if not open_tags or open_tags[-1][0] != name:
                expected = f"</{open_tags[-1][0]}>" if open_tags else say("no closing tag")
                return tokens, HtmlProblem(
                    pos,
                    say(
                        "</{name}> closes a tag that is not open here (expected {expected})",
                        name=name,
                        expected=expected,
                    ),
                    say("close tags in the reverse order you opened them."),
                )
            open_tags.pop()
            tokens.append(Token("end", name))
        else:
            attrs = tuple(
                (m.group(1).lower(), html.unescape(m.group(2) or m.group(3) or m.group(4) or ""))
                for m in _ATTR.finditer(raw_attrs)
            )
            problem = _check_attrs(name, dict(attrs), [t for t, _ in open_tags])
            if problem:
                return tokens, HtmlProblem(pos, problem[0], problem[1])
            open_tags.append((name, pos))
            tokens.append(Token("start", name, attrs))
        pos = match.end()
    flush()
    if open_tags:
        name, where = open_tags[-1]
        return tokens, HtmlProblem(
            where,
            say("<{name}> is never closed", name=name),
            say("add </{name}> where it should end.", name=name),
        )
    return tokens, None


def check(text: str) -> HtmlProblem | None:
    """The first problem Telegram would have with this HTML, or None."""
    return tokenize(text)[1]


def visible_text(text: str) -> str:
    """The text a reader sees (tags removed, entities decoded)."""
    tokens, _ = tokenize(text)
    return "".join(t.value for t in tokens if t.kind == "text")


def telegram_length(text: str) -> int:
    """Length as Telegram counts it for the 4096 limit: UTF-16 code units of the visible text."""
    return len(visible_text(text).encode("utf-16-le")) // 2


def _decode_entity(match: re.Match[str]) -> str | None:
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return _NAMED_ENTITIES.get(name)
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else None


def _unsupported_hint(name: str) -> str:
    if name in {"br", "p", "div"}:
        return say("use a plain line break (press Enter) instead; Telegram keeps line breaks as they are.")
    if name in {"h1", "h2", "h3", "h4"}:
        return say("use <b>…</b> for a heading.")
    if name in {"ul", "ol", "li"}:
        return say("write a list as lines starting with • or 1. — there are no list tags.")
    return say("use only b, i, u, s, a, code, pre, blockquote, tg-spoiler; for a literal < write &lt;.")


def _check_attrs(name: str, attrs: dict[str, str], open_tags: list[str]) -> tuple[str, str] | None:
    if name == "a":
        if "href" not in attrs:
            return say("<a> without href"), say('write <a href="https://…">text</a>.')
        if not re.match(r"^(https?|tg)://", attrs["href"]):
            return (
                say("the link {href!r} is not an http(s) or tg:// address", href=attrs["href"]),
                say(
                    "links must start with https:// (write phone numbers and e-mail addresses as plain "
                    "text; Telegram makes them tappable)."
                ),
            )
    if name == "span" and attrs.get("class") != "tg-spoiler":
        return say('<span> without class="tg-spoiler"'), say(
            'Telegram only supports <span class="tg-spoiler">.'
        )
    if (
        name == "code"
        and "class" in attrs
        and not (attrs["class"].startswith("language-") and open_tags and open_tags[-1] == "pre")
    ):
        return (
            say("<code class=…> outside <pre>"),
            say('a language class only works as <pre><code class="language-x">.'),
        )
    if name == "tg-emoji" and "emoji-id" not in attrs:
        return say("<tg-emoji> without emoji-id"), say("use a plain emoji character instead.")
    return None
