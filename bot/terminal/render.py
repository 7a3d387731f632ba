"""Engine replies in a terminal: the text readably (bold, links with their address), numbered buttons."""

from __future__ import annotations

from typing import assert_never

from bot.content.telegram_html import terminal_text
from bot.engine.model import Button, CallbackButton, LinkButton, Reply


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
    lines = [terminal_text(reply.text, color=color), ""]
    choices: list[str | None] = []
    for row in reply.keyboard:
        for button in row:
            data, shown = terminal_button(button)
            choices.append(data)
            lines.append(f"  [{len(choices)}] {shown}")
    return "\n".join(lines).rstrip() + "\n", choices
