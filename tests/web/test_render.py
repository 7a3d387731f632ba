"""Replies drawn for a page (the web chat and the staff preview): each kind of button as it should be."""

from __future__ import annotations

from bot.engine.model import CallbackButton, LinkButton, Reply
from bot.web.render import page_buttons


def test_a_callback_button_sends_its_data_and_a_link_button_opens_its_address() -> None:
    reply = Reply(
        "Velg",
        (
            (CallbackButton("Telefon", "n:telefon"),),
            (LinkButton("Nettsiden", "https://balansekunst.no"), LinkButton("Bot", "tg://resolve?domain=x")),
        ),
    )
    assert page_buttons(reply) == (
        ({"text": "Telefon", "callback": "n:telefon"},),
        (
            {"text": "Nettsiden", "url": "https://balansekunst.no"},
            {"text": "Bot", "url": "tg://resolve?domain=x"},
        ),
    )


def test_a_link_a_page_must_not_open_is_dropped_and_so_is_a_row_left_empty() -> None:
    reply = Reply(
        "Velg",
        (
            (LinkButton("Skript", "javascript:alert(1)"), CallbackButton("Meny", "n:meny")),
            (LinkButton("Data", "data:text/html,x"),),
        ),
    )
    assert page_buttons(reply) == (({"text": "Meny", "callback": "n:meny"},),)
