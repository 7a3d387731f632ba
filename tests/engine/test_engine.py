"""The engine's answers to every kind of event, including the odd ones."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.content.scripts import ACUTE, DELETED, FALLBACK, MENU, START
from bot.engine import callbacks
from bot.engine.engine import Engine
from bot.engine.model import ButtonPress, ChatState, Command, ForgetChat, FreeText, NonText
from tests.support.buttons import callback_data


def test_start_greets_and_shows_the_menu(engine: Engine) -> None:
    outcome = engine.handle(ChatState(), Command("start"))
    assert outcome.state.node == START
    (reply,) = outcome.replies
    assert "anonym" in reply.text
    assert len(reply.keyboard) >= 5


@pytest.mark.parametrize(
    ("command", "node"),
    [
        ("meny", MENU),
        ("hjelp", "hjelp"),
        ("telefon", "telefon"),
        ("merket", "merket"),
        ("personvern", "personvern"),
    ],
)
def test_commands_open_their_nodes(engine: Engine, command: str, node: str) -> None:
    outcome = engine.handle(ChatState(), Command(command))
    assert outcome.state.node == node
    assert outcome.replies[0].node == node


def test_button_press_moves_to_the_node(engine: Engine) -> None:
    outcome = engine.handle(ChatState(node=START), ButtonPress(callbacks.goto("telefon")))
    assert outcome.state.node == "telefon"
    assert "400 38 800" in outcome.replies[0].text


@pytest.mark.parametrize(
    "data",
    [
        callbacks.goto("fjernet_node"),
        "x" * 64,
        "",
        None,
        "n:../../etc",
        "n:ÆØÅ",
        "n:" + "a" * 100,
        "menu:v0:1",
        "n:\udc00",  # found by fuzzing: a lone surrogate in forged JSON broke the length check
    ],
)
def test_old_or_forged_buttons_lead_to_the_menu_kindly(engine: Engine, data: str | None) -> None:
    outcome = engine.handle(ChatState(node="telefon"), ButtonPress(data))
    assert outcome.state.node == MENU
    (reply,) = outcome.replies
    assert "ikke i bruk lenger" in reply.text
    assert reply.keyboard, "the menu's buttons come with it"


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice", "document"])
def test_non_text_gets_a_kind_reply_and_the_menu(engine: Engine, kind: str) -> None:
    (reply,) = engine.handle(ChatState(), NonText(kind)).replies
    assert "bare lese tekstmeldinger" in reply.text
    assert reply.keyboard


def test_an_edited_message_is_asked_for_again(engine: Engine) -> None:
    (reply,) = engine.handle(ChatState(node="telefon"), NonText("edited_message")).replies
    assert "bare nye meldinger" in reply.text
    assert reply.keyboard


def test_unknown_command_is_named_and_menu_shown(engine: Engine) -> None:
    (reply,) = engine.handle(ChatState(), Command("finnesikke")).replies
    assert "/finnesikke" in reply.text
    assert reply.node == MENU


def test_slett_forgets_the_chat(engine: Engine) -> None:
    outcome = engine.handle(ChatState(node="usikker", lang="nb"), Command("slett"))
    assert ForgetChat() in outcome.effects
    assert outcome.state == ChatState(lang="nb")
    assert outcome.replies[0].node == DELETED


def test_avbryt_with_nothing_to_cancel(engine: Engine) -> None:
    outcome = engine.handle(ChatState(node="telefon"), Command("avbryt"))
    assert "ingenting å avbryte" in outcome.replies[0].text
    assert outcome.state.node == MENU


@pytest.mark.parametrize(
    ("text", "node"),
    [
        ("hva er seksuell trakassering?", "trakassering"),
        ("når er telefonen åpen?", "telefon"),
        ("hvordan får vi balansemerket?", "merket"),
    ],
)
def test_first_questions_reach_their_topic(engine: Engine, text: str, node: str) -> None:
    outcome = engine.handle(ChatState(), FreeText(text))
    assert outcome.route == "node"
    assert outcome.state.node is not None and outcome.state.node.startswith(node)


@pytest.mark.parametrize("text", ["", "   ", "🙂🙂🙂", "?!?", "asdfghjkl", "1234"])
def test_odd_messages_get_the_fallback(engine: Engine, text: str) -> None:
    outcome = engine.handle(ChatState(), FreeText(text))
    assert outcome.route == "fallback"
    assert outcome.replies[0].node == FALLBACK


def test_a_very_long_message_is_answered(engine: Engine) -> None:
    text = "jeg lurer på når telefonen er åpen " * 500
    outcome = engine.handle(ChatState(), FreeText(text))
    assert outcome.replies and outcome.replies[0].node == "telefon"


def test_user_html_is_never_echoed(engine: Engine) -> None:
    text = '<b>hei</b> <a href="tg://x">klikk</a> & <script>'
    for reply in engine.handle(ChatState(), FreeText(text)).replies:
        assert "<script>" not in reply.text and "klikk" not in reply.text


def test_acute_danger_comes_before_everything(engine: Engine) -> None:
    outcome = engine.handle(ChatState(node="merket"), FreeText("hjelp han slår meg nå"))
    assert outcome.route == "acute"
    assert outcome.replies[0].node == ACUTE
    assert "112" in outcome.replies[0].text


def test_engine_is_pure(engine: Engine) -> None:
    """The same state and event always give the same outcome; the input state is untouched."""
    state = ChatState(node="telefon")
    first = engine.handle(state, FreeText("hvem kan ringe"))
    second = engine.handle(state, FreeText("hvem kan ringe"))
    assert first == second
    assert state == ChatState(node="telefon")


def test_language_choice_and_switch(engine: Engine) -> None:
    choice = engine.handle(ChatState(node="telefon"), Command("sprak"))
    (reply,) = choice.replies
    labels = [b.text for row in reply.keyboard for b in row]
    assert labels[:3] == ["Norsk bokmål", "Norsk nynorsk", "English"]
    data = callback_data(reply)
    switched = engine.handle(choice.state, ButtonPress(data[1]))
    assert switched.state.lang == "nn"
    assert switched.state.node == MENU
    assert switched.replies[0].text == engine.scripts.language("nn").nodes[MENU].text
    assert engine.handle(switched.state, Command("finnesikke")).replies[0].text.startswith("Kommandoen")
    assert "kjenner eg ikkje" in engine.handle(switched.state, Command("finnesikke")).replies[0].text
    english = engine.handle(switched.state, ButtonPress(callbacks.language("en")))
    assert english.state.lang == "en"
    assert engine.handle(english.state, NonText("sticker")).replies[0].text.startswith("I can only read text")


def test_the_menu_button_opens_the_language_choice(engine: Engine) -> None:
    outcome = engine.handle(ChatState(node=MENU), ButtonPress(callbacks.goto("sprak")))
    assert [b.text for row in outcome.replies[0].keyboard for b in row][:3] == [
        "Norsk bokmål",
        "Norsk nynorsk",
        "English",
    ]


def test_a_forged_language_is_refused_kindly(engine: Engine) -> None:
    outcome = engine.handle(ChatState(), ButtonPress("l:xx"))
    assert outcome.state.lang == "nb"
    assert "ikke i bruk lenger" in outcome.replies[0].text


OSLO = ZoneInfo("Europe/Oslo")


@pytest.mark.parametrize(
    ("when", "lang", "says"),
    [
        (dt.datetime(2026, 11, 24, 10, 0, tzinfo=OSLO), "nb", "Den er åpen nå, til kl. 16.00."),
        (dt.datetime(2026, 11, 24, 17, 0, tzinfo=OSLO), "nb", "åpner igjen i morgen kl. 09.00"),
        (dt.datetime(2026, 12, 25, 10, 0, tzinfo=OSLO), "nn", "opnar igjen måndag 28. desember kl. 09.00"),
        (dt.datetime(2027, 5, 17, 10, 0, tzinfo=OSLO), "en", "opens again tomorrow at 09:00"),
    ],
)
def test_the_hotline_page_says_whether_it_is_open_now(
    engine: Engine, when: dt.datetime, lang: str, says: str
) -> None:
    (reply,) = engine.handle(ChatState(lang=lang), Command("telefon"), when).replies
    assert says in reply.text
    assert "{hotline.status}" not in reply.text


def test_without_a_clock_the_status_line_is_left_out(engine: Engine) -> None:
    (reply,) = engine.handle(ChatState(), Command("telefon")).replies
    assert "{hotline.status}" not in reply.text and "<i></i>" not in reply.text


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
@pytest.mark.parametrize(
    "text", ["jeg blir slått nå", "eg vart slått i kveld og er redd", "he is hitting me"]
)
def test_danger_is_recognised_in_any_language_whatever_the_chat_language(
    engine: Engine, lang: str, text: str
) -> None:
    outcome = engine.handle(ChatState(lang=lang), FreeText(text))
    assert outcome.route == "acute"
    assert outcome.state.node == ACUTE
