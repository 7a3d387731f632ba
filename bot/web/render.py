"""An engine reply's buttons drawn for a page (the web chat, the staff preview); its text: telegram_html."""

from __future__ import annotations

from typing import assert_never

from bot.content.telegram_html import LINK_SCHEMES
from bot.engine.model import Button, CallbackButton, LinkButton, Reply


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
