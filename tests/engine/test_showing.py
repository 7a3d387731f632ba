"""The one rule every adapter shows outcomes by: edit the newest message, or send anew; forget the chat."""

from __future__ import annotations

from bot.engine.model import ButtonPress, ChatState, Command, ForgetChat, FreeText, Outcome, Reply
from bot.engine.showing import Showing, how_to_show

AT_PHONE = ChatState(node="telefon", lang="nn")
ANSWER = Outcome((Reply("Ring oss"),), AT_PHONE)
FORGOTTEN = Outcome((Reply("Sletta"),), ChatState(node="slettet", lang="nn"), (ForgetChat(),))


def test_a_press_on_the_newest_message_edits_it() -> None:
    assert how_to_show(ButtonPress("n:telefon"), ANSWER, pressed=7, newest=7) == Showing(
        AT_PHONE, forget=False, edit=7
    )


def test_a_press_on_an_older_message_or_on_an_unknown_one_sends_anew() -> None:
    assert how_to_show(ButtonPress("n:telefon"), ANSWER, pressed=5, newest=7).edit is None
    assert how_to_show(ButtonPress("n:telefon"), ANSWER, pressed=None, newest=7).edit is None
    assert how_to_show(ButtonPress("n:telefon"), ANSWER, pressed=None, newest=None).edit is None


def test_only_a_press_edits_typed_text_and_commands_send_anew() -> None:
    assert how_to_show(FreeText("telefon"), ANSWER, pressed=7, newest=7).edit is None
    assert how_to_show(Command("telefon"), ANSWER, pressed=7, newest=7).edit is None


def test_a_forgotten_chat_starts_afresh_in_its_language_and_edits_nothing() -> None:
    assert how_to_show(ButtonPress("n:slett_ja"), FORGOTTEN, pressed=7, newest=7) == Showing(
        ChatState(lang="nn"), forget=True, edit=None
    )
