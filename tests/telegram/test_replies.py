"""Engine replies as Telegram sends them: each kind of button becomes the right inline button."""

from __future__ import annotations

from bot.engine.model import CallbackButton, LinkButton, Reply
from bot.telegram.replies import keyboard


def test_a_callback_button_sends_its_data_and_a_link_button_opens_its_address() -> None:
    reply = Reply(
        "Velg",
        (
            (CallbackButton("Telefon", "n:telefon"),),
            (LinkButton("Nettsiden", "https://balansekunst.no"), CallbackButton("Meny", "n:meny")),
        ),
    )
    markup = keyboard(reply)
    assert markup is not None
    assert markup.to_dict()["inline_keyboard"] == [
        [{"text": "Telefon", "callback_data": "n:telefon"}],
        [
            {"text": "Nettsiden", "url": "https://balansekunst.no"},
            {"text": "Meny", "callback_data": "n:meny"},
        ],
    ]


def test_a_reply_without_buttons_has_no_keyboard() -> None:
    assert keyboard(Reply("Hei")) is None
