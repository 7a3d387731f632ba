"""Telegram's HTML subset in one place: its limits, one tokenizer, and every way the bot shows it.

Telegram rejects a whole message when its HTML has one wrong tag, so scripts are checked against
the same rules before they reach anyone (https://core.telegram.org/bots/api#html-style). The same
tokens are rendered as the visible text (lengths, tests), plain text (Telegram refused the HTML),
terminal text (`balansebot chat`) and page HTML (the web chat and the staff preview).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Literal

from telegram.constants import InlineKeyboardButtonLimit, MessageLimit

from bot.staff_words import say

# Telegram's limits, from python-telegram-bot's public constants.
MAX_MESSAGE_LENGTH = int(MessageLimit.MAX_TEXT_LENGTH)
"""A message's text, in UTF-16 code units of what is shown (tags and entities do not count)."""
MIN_CALLBACK_BYTES = int(InlineKeyboardButtonLimit.MIN_CALLBACK_DATA)
MAX_CALLBACK_BYTES = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)
"""A button's callback data, in bytes of UTF-8."""

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
# What the lenient reading also accepts: any entity a browser knows (&nbsp;), a tag with loose
# attributes, and what it skips (comments, declarations, self-closing tags).
_LOOSE_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);?")
_LOOSE_TAG = re.compile(r"<(/?)([a-zA-Z][^\s/>]*)([^>]*)>")
_SKIPPED = re.compile(r"<!--.*?(?:-->|\Z)|<[!?][^>]*>?|<[a-zA-Z][^>]*/>", re.DOTALL)


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


def tokenize(text: str, *, lenient: bool = False) -> tuple[list[Token], HtmlProblem | None]:
    """Split Telegram HTML into tokens, with the first thing Telegram would refuse.

    Strict (the default) stops at that problem, as Telegram does. Lenient reads on as a browser
    would, for text that may be broken: every tag becomes a token (renderers drop what they do not
    know), end tags need not match, a stray `<` or `&` is text, and comments and `<x/>` are skipped.
    """
    tokens: list[Token] = []
    open_tags: list[tuple[str, int]] = []
    buffer: list[str] = []
    first: HtmlProblem | None = None
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
                problem = HtmlProblem(
                    pos,
                    say("a bare `&` that does not start &amp; &lt; &gt; or &quot;"),
                    say("write `&amp;` for the character &."),
                )
                if not lenient:
                    return tokens, problem
                first = first or problem
                loose = _LOOSE_ENTITY.match(text, pos)
                buffer.append(html.unescape(loose[0]) if loose else "&")
                pos = loose.end() if loose else pos + 1
                continue
            buffer.append(decoded)
            pos = match.end()
            continue
        if char != "<":
            buffer.append(char)
            pos += 1
            continue
        match = _TAG.match(text, pos)
        if match is None:
            problem = HtmlProblem(
                pos, say("a bare `<` that does not start a tag"), say("write `&lt;` for the character <.")
            )
            if not lenient:
                return tokens, problem
            first = first or problem
            if skipped := _SKIPPED.match(text, pos):
                pos = skipped.end()  # a comment, a declaration or a self-closing tag: nothing shown
                continue
            if not (match := _LOOSE_TAG.match(text, pos)):
                buffer.append(char)
                pos += 1
                continue
        closing, name, raw_attrs = match.group(1) == "/", match.group(2).lower(), match.group(3)
        refused: HtmlProblem | None = None
        if name not in ALLOWED_TAGS:
            refused = HtmlProblem(
                pos, say("Telegram does not support the tag <{name}>", name=name), _unsupported_hint(name)
            )
        elif closing and (not open_tags or open_tags[-1][0] != name):
            expected = f"</{open_tags[-1][0]}>" if open_tags else say("no closing tag")
            refused = HtmlProblem(
                pos,
                say(
                    "</{name}> closes a tag that is not open here (expected {expected})",
                    name=name,
                    expected=expected,
                ),
                say("close tags in the reverse order you opened them."),
            )
        if refused is not None and not lenient:
            if name in ALLOWED_TAGS:
                flush()  # an end tag in the wrong place: the text before it was read
            return tokens, refused
        first = first or refused
        flush()
        if closing:
            if refused is None:
                open_tags.pop()
            tokens.append(Token("end", name))
        else:
            attrs = tuple(
                (m.group(1).lower(), html.unescape(m.group(2) or m.group(3) or m.group(4) or ""))
                for m in _ATTR.finditer(raw_attrs)
            )
            if refused is None and (wrong := _check_attrs(name, dict(attrs), [t for t, _ in open_tags])):
                if not lenient:
                    return tokens, HtmlProblem(pos, wrong[0], wrong[1])
                first = first or HtmlProblem(pos, wrong[0], wrong[1])
            if name in ALLOWED_TAGS:
                open_tags.append((name, pos))
            tokens.append(Token("start", name, attrs))
        pos = match.end()
    flush()
    if open_tags and first is None:
        name, where = open_tags[-1]
        first = HtmlProblem(
            where,
            say("<{name}> is never closed", name=name),
            say("add </{name}> where it should end.", name=name),
        )
    return tokens, first


def check(text: str) -> HtmlProblem | None:
    """The first problem Telegram would have with this HTML, or None."""
    return tokenize(text)[1]


def visible_text(text: str) -> str:
    """The text a reader sees (tags removed, entities decoded)."""
    tokens, _ = tokenize(text)
    return "".join(t.value for t in tokens if t.kind == "text")


def telegram_length(text: str) -> int:
    """Length as Telegram counts it for the 4096 limit: UTF-16 code units of the visible text."""
    return utf16_length(visible_text(text))


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def utf16_cut(text: str, units: int) -> str:
    """The text cut to at most `units` UTF-16 code units."""
    # Dropping a half surrogate pair ("ignore") keeps an emoji at the cut from turning into garbage.
    return text.encode("utf-16-le")[: 2 * units].decode("utf-16-le", "ignore")


def plain_text(text: str) -> str:
    """Telegram HTML, perhaps broken, as plain text: a link's address after its words, other tags dropped."""
    tokens, _ = tokenize(text, lenient=True)
    out: list[str] = []
    links: list[tuple[str, int]] = []  # each open link's address, and where its words begin
    for token in tokens:
        if token.kind == "text":
            out.append(token.value)
        elif token.value == "a" and token.kind == "start":
            links.append((dict(token.attrs).get("href", ""), len(out)))
        elif token.value == "a" and links:
            href, begin = links.pop()
            if href and "".join(out[begin:]) != href:
                out.append(f" ({href})")
    return "".join(out)


_TERMINAL_STYLES = {
    "b": "1",
    "strong": "1",
    "i": "3",
    "em": "3",
    "u": "4",
    "ins": "4",
    "s": "9",
    "strike": "9",
    "del": "9",
    "code": "2",
    "pre": "2",
    "tg-spoiler": "7",
    "span": "7",
}


def terminal_text(text: str, *, color: bool) -> str:
    """Telegram HTML for a terminal: ANSI styles when `color`, links with their address, quotes."""
    tokens, _ = tokenize(text)
    out: list[str] = []
    links: list[str] = []
    quote_depth = 0
    for token in tokens:
        if token.kind == "text":
            value = token.value
            if quote_depth:
                value = value.replace("\n", "\n│ ")
            out.append(value)
        elif token.kind == "start":
            if token.value == "blockquote":
                quote_depth += 1
                out.append("│ ")
            elif token.value == "a":
                links.append(dict(token.attrs).get("href", ""))
            elif color and token.value in _TERMINAL_STYLES:
                out.append(f"\x1b[{_TERMINAL_STYLES[token.value]}m")
        else:
            if token.value == "blockquote":
                quote_depth -= 1
            elif token.value == "a" and links:
                out.append(f" ({links.pop()})")
            elif color and token.value in _TERMINAL_STYLES:
                out.append("\x1b[0m")
    return "".join(out)


# Telegram's tag → the tag written to a page (strike is obsolete in HTML; s draws the same).
_PAGE_TAGS = {
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
PAGE_TAGS = frozenset({*_PAGE_TAGS.values(), "a", "code", "blockquote", "span"})
"""Every tag `page_html` can write; nothing else ever reaches the page."""
PAGE_ATTRIBUTES = {
    "a": frozenset({"href", "target", "rel"}),
    "code": frozenset({"class"}),
    "blockquote": frozenset({"class"}),
    "span": frozenset({"class"}),
}
SPOILER_CLASS = "tg-spoiler"
EXPANDABLE_CLASS = "tg-expandable"
LINK_SCHEMES = re.compile(r"^(?:https?|tg)://", re.IGNORECASE)
"""The addresses Telegram opens (and so a page may): http(s) and tg://."""
_CODE_LANGUAGE = re.compile(r"^language-[A-Za-z0-9_+#.-]{1,32}$")


def page_html(text: str) -> str:
    """Telegram HTML, perhaps broken, as HTML safe to put in a page, looking as Telegram shows it.

    Only Telegram's formatting survives; every other tag is dropped with its text kept, and all text
    is escaped again, so whatever a reply contains — including what someone typed, echoed back —
    can never become markup or script in the page. Line breaks stay newlines; the page keeps them.
    """
    tokens, _ = tokenize(text, lenient=True)
    out: list[str] = []
    open_tags: list[tuple[str, str | None]] = []  # each open tag, and what was written for it (None: dropped)

    def close(written: str | None) -> None:
        if written is not None:
            out.append(f"</{written}>")

    for token in tokens:
        if token.kind == "text":
            out.append(html.escape(token.value, quote=False))
        elif token.kind == "start":
            written, attributes = _page_tag(token.value, dict(token.attrs))
            open_tags.append((token.value, written))
            if written is not None:
                shown = "".join(f' {name}="{html.escape(value, quote=True)}"' for name, value in attributes)
                out.append(f"<{written}{shown}>")
        elif any(source == token.value for source, _ in open_tags):
            # Close the innermost open tag of this name, and any left open inside it; a stray end
            # tag (which Telegram refuses) is simply ignored.
            while open_tags:
                source, written = open_tags.pop()
                close(written)
                if source == token.value:
                    break
    while open_tags:
        close(open_tags.pop()[1])
    return "".join(out)


def _page_tag(tag: str, attrs: dict[str, str]) -> tuple[str | None, list[tuple[str, str]]]:
    """The page's tag and attributes for one Telegram tag, or None to drop the tag (not its text)."""
    if tag in _PAGE_TAGS:
        return _PAGE_TAGS[tag], []
    if tag == "a":
        href = attrs.get("href", "").strip()
        if not LINK_SCHEMES.match(href):
            return None, []  # Telegram refuses other links; javascript: and the like never get through
        return "a", [("href", href), ("target", "_blank"), ("rel", "noopener noreferrer")]
    if tag == "code":
        language = attrs.get("class", "")
        return "code", [("class", language)] if _CODE_LANGUAGE.match(language) else []
    if tag == "blockquote":
        return "blockquote", [("class", EXPANDABLE_CLASS)] if "expandable" in attrs else []
    if tag == "tg-spoiler" or (tag == "span" and attrs.get("class") == SPOILER_CLASS):
        return "span", [("class", SPOILER_CLASS)]
    return None, []


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
