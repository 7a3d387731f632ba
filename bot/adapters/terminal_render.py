"""Telegram HTML shown readably in a terminal: bold, italics, links with their address, quotes."""

from __future__ import annotations

from typing import assert_never

from bot.content.telegram_html import tokenize
from bot.engine.model import Button, CallbackButton, LinkButton, Reply

_STYLES = {
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


def html_to_terminal(text: str, *, color: bool) -> str:
    """Render Telegram HTML for a terminal (ANSI styles when `color`)."""
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
            elif color and token.value in _STYLES:
                out.append(f"\x1b[{_STYLES[token.value]}m")
        else:
            if token.value == "blockquote":
                quote_depth -= 1
            elif token.value == "a" and links:
                out.append(f" ({links.pop()})")
            elif color and token.value in _STYLES:
                out.append("\x1b[0m")
    return "".join(out)


def terminal_button(button: Button) -> tuple[str | None, str]:
    """A button's callback data (None: nothing to send back) and how its line reads."""
    match button:
        case CallbackButton(text, data):
            return data, text
        case LinkButton(text, url):
            return None, f"{text}  → {url}"
        case _:
            assert_never(button)


def render_reply(reply: Reply, *, color: bool) -> tuple[str, list[str | None]]:
    """The reply as terminal text with numbered buttons, and the callback data of each number."""
    lines = [html_to_terminal(reply.text, color=color), ""]
    choices: list[str | None] = []
    for row in reply.keyboard:
        for button in row:
            data, shown = terminal_button(button)
            choices.append(data)
            lines.append(f"  [{len(choices)}] {shown}")
    return "\n".join(lines).rstrip() + "\n", choices
