"""Walk every node of the shipped dialogue through the engine, as a reader pressing buttons would."""

from __future__ import annotations

import re

import pytest
import yaml

from bot.content import telegram_html
from bot.content.scripts import LANGUAGE_NODE, MENU, REQUIRED_NODES, SOURCE_LANGUAGE, Scripts
from bot.engine import callbacks
from bot.engine.engine import Engine
from bot.engine.model import ButtonPress, CallbackButton, ChatState, Command, LinkButton, Reply
from tests.support.buttons import callback_data


def walk(engine: Engine, lang: str = "nb") -> dict[str, Reply]:
    """Every node reachable from /start and the commands, by pressing buttons; node id → reply."""
    seen: dict[str, Reply] = {}
    queue = [
        engine.handle(ChatState(lang=lang), Command(c))
        for c in ("start", "meny", "hjelp", "telefon", "merket", "personvern")
    ]
    while queue:
        outcome = queue.pop()
        for reply in outcome.replies:
            if reply.node is None or reply.node in seen:
                continue
            seen[reply.node] = reply
            for row in reply.keyboard:
                for button in row:
                    if isinstance(button, CallbackButton):
                        queue.append(engine.handle(outcome.state, ButtonPress(button.data)))
    return seen


@pytest.fixture(scope="module")
def replies(engine: Engine) -> dict[str, Reply]:
    """The reply for every node reached by buttons."""
    return walk(engine)


def test_every_node_is_reached_by_buttons_or_commands(replies: dict[str, Reply], scripts: Scripts) -> None:
    # Nodes the engine sends by itself (fallback, deleted) are reached through their events instead.
    by_event = {"ikke_forstatt", "slettet"}
    assert set(scripts.language("nb").nodes) - by_event <= set(replies) - {LANGUAGE_NODE}
    assert set(REQUIRED_NODES) - by_event <= set(replies)


def test_every_reply_is_html_telegram_accepts(replies: dict[str, Reply]) -> None:
    for node, reply in replies.items():
        assert telegram_html.check(reply.text) is None, node
        assert 0 < telegram_html.telegram_length(reply.text) <= telegram_html.MAX_MESSAGE_LENGTH, node


def test_every_button_fits_and_leads_somewhere(replies: dict[str, Reply], scripts: Scripts) -> None:
    for node, reply in replies.items():
        assert reply.keyboard, f"{node} has no buttons"
        for row in reply.keyboard:
            for button in row:
                if isinstance(button, LinkButton):
                    assert re.match(r"^(https?|tg)://", button.url), node
                    continue
                assert callbacks.fits(button.data), node
                target = callbacks.parse(button.data)
                if isinstance(target, callbacks.ChooseLanguage):
                    assert target.lang in scripts.languages
                    continue
                if isinstance(target, callbacks.QuickExit | callbacks.AutoDelete):
                    continue  # actions, not places: tests/telegram/test_leave_no_trace.py
                assert isinstance(target, callbacks.GotoNode)
                assert target.node_id == LANGUAGE_NODE or scripts.node("nb", target.node_id), (node, target)


def test_the_menu_is_one_press_away_everywhere(replies: dict[str, Reply]) -> None:
    menu_data = callbacks.goto(MENU)
    for node, reply in replies.items():
        if node in ("start", MENU):
            continue
        assert {menu_data, callbacks.goto("start")} & set(callback_data(reply)), node


def plain(reply: Reply) -> str:
    """The text as the reader sees it."""
    return telegram_html.visible_text(reply.text)


@pytest.mark.parametrize(
    ("node", "facts"),
    [
        ("telefon", ["400 38 800", "mandag–fredag", "09.00–16.00", "én virkedag"]),
        ("telefon_samtalen", ["Advokatene Graasvold & Stenvaag", "anonym", "taushetsplikt", "400 38 800"]),
        ("merket_soke", ["hei@balansekunstprosjektet.no"]),
        ("merket_kurs", ["tre timer"]),
        ("merket_tildeling", ["ett år"]),
        ("akutt", ["112", "113", "116 117"]),
        ("start", ["112", "anonym"]),
        ("om", ["2009", "over 100"]),
        ("merket_piloter", ["Scenekunstbruket", "Musikkutstyrsordningen", "Norske Billedkunstnere"]),
        (
            "personvern",
            ["30 dager", "48 timer", "ikke", "ende-til-ende-kryptert", "hei@balansekunstprosjektet.no"],
        ),
        (
            "personvern_mer",
            ["i 30 dager", "etter sju dager", "i seks timer", "400 dager", "Datatilsynet", "Balansekunst"],
        ),
    ],
)
def test_facts_are_present_where_promised(replies: dict[str, Reply], node: str, facts: list[str]) -> None:
    for fact in facts:
        assert fact in plain(replies[node]), (node, fact)


def test_course_is_three_hours(replies: dict[str, Reply]) -> None:
    assert re.search(r"\b3\b.{0,3}timer|tre timer", plain(replies["merket_kurs"]))


def test_law_is_quoted_exactly(replies: dict[str, Reply]) -> None:
    text = plain(replies["trakassering_loven"])
    assert (
        "uønsket seksuell oppmerksomhet som har som formål eller virkning å være krenkende, "
        "skremmende, fiendtlig, nedverdigende, ydmykende eller plagsom"
    ) in text
    assert "likestillings- og diskrimineringsloven" in text
    duty = plain(replies["arbeidsgiver_plikt"])
    assert (
        "Arbeidsgivere og ledelsen i organisasjoner og utdanningsinstitusjoner skal innenfor sitt "
        "ansvarsområde forebygge og søke å hindre trakassering og seksuell trakassering"
    ) in duty
    assert "arbeidsmiljøloven" in duty and "§ 4-3" in duty


def test_no_node_asks_who_the_reader_is(replies: dict[str, Reply]) -> None:
    asking = re.compile(r"(hva heter du|hvor jobber du|ditt navn\?|oppgi navn|skriv navnet)", re.IGNORECASE)
    for node, reply in replies.items():
        assert not asking.search(plain(reply)), node


def test_contact_details_come_only_from_the_facts_file(scripts: Scripts) -> None:
    """A changed number is changed once: no script text writes a fact literally."""
    literal = re.compile(r"400 ?38 ?800|hei@balansekunst|\b11[23]\b|116 ?117|116 ?123|\b0?9[.:]00|16[.:]00")
    for path in scripts.files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if path.name == "facts.yaml" or not isinstance(data, dict) or "nodes" not in data:
            continue
        for node in data["nodes"]:
            shown = [node["text"], node["title"], *(b["text"] for b in node.get("buttons", []))]
            for text in shown:
                assert not literal.search(text), (
                    f"{path} node {node['id']}: write the fact as {{…}}: {text!r}"
                )


TRANSLATIONS = ("nn", "en")


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_every_node_exists_in_each_language(scripts: Scripts, lang: str) -> None:
    assert lang in scripts.languages, f"dialogues/{lang}/ is missing"
    assert set(scripts.language(lang).nodes) == set(scripts.language(SOURCE_LANGUAGE).nodes)


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_walking_a_language_never_falls_back_to_bokmal(engine: Engine, scripts: Scripts, lang: str) -> None:
    replies = walk(engine, lang)
    own = scripts.language(lang).nodes
    bokmal = scripts.language(SOURCE_LANGUAGE).nodes
    for node, reply in replies.items():
        if node == LANGUAGE_NODE:
            continue
        assert node in own, f"{node} shown in Bokmål to a {lang} reader"
        assert reply.node == node and reply.text != bokmal[node].text, node
        assert reply.text.splitlines()[0] == own[node].text.splitlines()[0], node
        for row in reply.keyboard:
            for button in row:
                assert button.text != "↩️ Til menyen" or lang == "nn", "system buttons are translated"
    assert set(own) - {"ikke_forstatt", "slettet"} <= set(replies)


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_translations_keep_the_facts(engine: Engine, lang: str) -> None:
    replies = walk(engine, lang)
    assert "400 38 800" in plain(replies["telefon"])
    assert "hei@balansekunstprosjektet.no" in plain(replies["merket_soke"])
    for number in ("112", "113", "116 117"):
        assert number in plain(replies["akutt"])
    law = plain(replies["trakassering_loven"])
    assert "uønsket seksuell oppmerksomhet som har som formål eller virkning å være krenkende" in law
