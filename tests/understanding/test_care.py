"""People in distress are understood: danger in their own words, disclosures, and a net under every miss.

The tuning sets (bot/commands/confusion.py, TUNED_ON: the rules and the danger model learn from them)
and the held-out sets (HELDOUT below: written by people who never saw the scripts, never tuned or
trained on) were written as people type, not from the scripts' phrases. The floors below are what
the bot reaches today, so a change that makes it understand people worse fails here; the issue's
targets are named beside them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.cli import main
from bot.commands.confusion import TUNED_ON
from bot.content.loader import load_scripts
from bot.content.scripts import FALLBACK
from bot.engine.engine import Engine
from bot.engine.model import ButtonPress, ChatState, Command, FreeText, NonText, Outcome
from bot.i18n import Catalogs
from bot.staff.evaluation import Report, evaluate, load_examples
from tests.support.buttons import callback_data

HERE = Path(__file__).parent
# The sets staff tune on, one list with `balansebot confusion`; labelled.yaml has its own bars.
TUNING = [HERE / f for f in TUNED_ON if f != "labelled.yaml"]
HELDOUT_SETS = (
    "corpus_heldout.yaml",
    "corpus_fresh_heldout.yaml",
    "corpus_heldout3.yaml",
    "corpus_danger4.yaml",
    "corpus_danger6.yaml",
)
HELDOUT = [HERE / f for f in HELDOUT_SETS]
LANGS = ("nb", "nn", "en")

# Measured on 2026-12-04 (evening) with the pattern models, which learned from the tuning sets
# (6,748 messages, with corpus_train10, 420 look-alikes and danger close to them), on all five
# held-out sets (1,669): recall 97.9 % (98.1 in the morning), false alarms 11.7 % (13.2),
# disclosures 86 % (86), overall 90.8 % (90.2). Tuning sets: 100 %, 7.1 %, 96.4 %.
# Targets (issue #14): recall 100 %, false alarms <= 5 %, each category >= 85 %, overall >= 92 %,
# on the held-out part.
# Raise a floor whenever the bot gets better.
TUNING_FLOOR = {"acute_recall": 0.995, "false_alarms": 0.08, "overall": 0.96}
HELDOUT_FLOOR = {"acute_recall": 0.975, "false_alarms": 0.125, "overall": 0.905}


@pytest.fixture(scope="module")
def tuning(engine: Engine) -> Report:
    """The engine's answers to the corpus it was tuned on."""
    return evaluate(engine, load_examples(*TUNING))


@pytest.fixture(scope="module")
def heldout(engine: Engine) -> Report:
    """The engine's answers to the held-out part."""
    return evaluate(engine, load_examples(*HELDOUT))


def test_the_corpus_is_large_varied_and_labelled_with_real_nodes(engine: Engine) -> None:
    examples = load_examples(*TUNING, *HELDOUT)
    kinds = Counter(e.kind(engine.acute_nodes()) for e in examples)
    assert len(examples) >= 600
    assert kinds["acute"] >= 150 and kinds["trap"] >= 100 and kinds["disclosure"] >= 100
    assert kinds["out_of_scope"] >= 80
    assert {e.lang for e in examples} == set(LANGS)
    suicidal = [e for e in examples if e.expect == "akutt_selvmord"]
    assert len(suicidal) >= 40
    nodes = set(engine.scripts.language("nb").nodes)
    assert {e.expect for e in examples} <= nodes, "every label is a node of the scripts"
    held = {e.text.casefold().strip(" ?!.") for e in load_examples(*HELDOUT)}
    shared = held & {e.text.casefold().strip(" ?!.") for e in load_examples(*TUNING)}
    # Two people write "meny", "han er her" or "who runs this bot" alike; beyond such short,
    # common messages (at most 1 %) the parts are apart.
    longer = [t for t in shared if len(t.split()) > 2]
    assert len(held) >= 250 and len(longer) <= len(held) // 100, longer


def test_the_tuned_corpus_stays_understood(tuning: Report) -> None:
    print("\n".join(tuning.summary()))
    assert tuning.acute_recall >= TUNING_FLOOR["acute_recall"], [
        v.example.text for v in tuning.acute_misses()
    ]
    assert tuning.false_alarm_rate <= TUNING_FLOOR["false_alarms"]
    assert tuning.accuracy >= TUNING_FLOOR["overall"]


def test_the_heldout_part_is_understood_at_least_as_well_as_today(heldout: Report) -> None:
    # Only figures are printed: reading the held-out misses would be tuning on them.
    summary = "\n".join(heldout.summary())
    print(summary)
    assert heldout.acute_recall >= HELDOUT_FLOOR["acute_recall"], summary
    assert heldout.false_alarm_rate <= HELDOUT_FLOOR["false_alarms"], summary
    assert heldout.accuracy >= HELDOUT_FLOOR["overall"], summary


@pytest.mark.parametrize(
    ("text", "first", "then"),
    [
        ("jeg ble voldtatt etter en konsert", "akutt", "overgrep"),
        ("I was raped last night", "akutt", None),
        ("han slo meg i fjor og nå står han utenfor døra mi", "akutt", None),
        ("jeg tenker på selvmord", "akutt_selvmord", None),
        ("I don't want to live anymore", "akutt_selvmord", None),
        ("eg orkar ikkje meir, vil berre forsvinne", "akutt_selvmord", None),
        ("jeg blir truet nå", "akutt", None),
        ("venninna mi har tatt masse piller og svarer ikke", "akutt", None),
        ("noen har puttet noe i drinken min", "akutt", None),
        ("er det min feil?", "ikke_din_skyld", None),
        ("hjelp", "trenger_hjelp", None),
        ("jeg trenger hjelp", "trenger_hjelp", None),
    ],
)
def test_the_probes_get_a_caring_answer(engine: Engine, text: str, first: str, then: str | None) -> None:
    for lang in LANGS:
        outcome = engine.handle(ChatState(lang=lang), FreeText(text))
        assert outcome.nodes[0] == first, (lang, outcome.nodes)
        if then is not None:
            assert outcome.nodes[1] == then, (lang, outcome.nodes)
            assert len(outcome.replies) == 2, "when in doubt, both: the acute help, then the answer"


@pytest.mark.parametrize(
    "text",
    [
        "jeg døde av latter på øvinga",
        "han slo meg i sjakk igjen",
        "det slår meg at vi aldri har snakket om dette",
        "kniven er bare en rekvisitt i stykket",
        "she killed it on stage last night",
        "jeg er i fare for å miste oppdraget hvis jeg sier fra",
        "hva er straffen for voldtekt i loven",
        "sjefen sa han skulle drepe meg hvis jeg glemte kaffen 😂",
    ],
)
def test_idioms_and_fiction_raise_no_alarm(engine: Engine, text: str) -> None:
    assert engine.alert(text) is None


def test_a_past_time_word_never_switches_off_a_danger_that_is_present(engine: Engine) -> None:
    assert engine.alert("han truet med å drepe meg i fjor") is not None, "a past threat is still a weak cue"
    alert = engine.alert("for to år siden slo han meg, og nå står han utenfor døra")
    assert alert is not None and not alert.weak


def dead_ends(engine: Engine, lang: str) -> dict[str, Outcome]:
    """Every way the bot can fail to answer, in one language."""
    state = ChatState(lang=lang)
    return {
        "fallback": engine.handle(state, FreeText("qwxz blorp fnarg")),
        "unknown command": engine.handle(state, Command("finnesikke")),
        "sticker": engine.handle(state, NonText("sticker")),
        "edited": engine.handle(state, NonText("edited_message")),
        "old button": engine.handle(state, ButtonPress("n:finnes_ikke_lenger")),
        "nothing to cancel": engine.handle(state, Command("avbryt")),
    }


@pytest.mark.parametrize("lang", LANGS)
def test_every_dead_end_shows_the_emergency_number_and_the_acute_button(engine: Engine, lang: str) -> None:
    acute_title = engine.scripts.node(lang, "akutt")
    assert acute_title is not None
    for name, outcome in dead_ends(engine, lang).items():
        (reply,) = outcome.replies
        assert "112" in reply.text, (lang, name, reply.text)
        buttons = callback_data(reply)
        assert "n:akutt" in buttons, (lang, name, buttons)
    assert dead_ends(engine, lang)["fallback"].nodes == (FALLBACK,)


def test_a_weak_cue_in_the_interest_form_shows_help_and_keeps_the_form(
    scripts: object, catalogs: Catalogs
) -> None:
    from bot.content.scripts import Scripts

    assert isinstance(scripts, Scripts)
    engine = Engine(scripts, catalogs, lead_form=True)
    state = engine.handle(ChatState(), ButtonPress("n:skjema")).state
    assert state.form is not None
    weak = engine.handle(state, FreeText("jeg er så redd"))
    assert weak.nodes[0] == "akutt" and weak.state.form is not None, "the form goes on after the help"
    strong = engine.handle(state, FreeText("han står utenfor døra mi nå"))
    assert strong.nodes == ("akutt",) and strong.state.form is None


def test_an_unknown_concept_in_acute_yaml_is_refused_with_file_and_line(
    dialogues_copy: Path, catalogs: Catalogs
) -> None:
    path = dialogues_copy / "nb" / "acute.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  - when: [selvmord]\n", "  - when: [selvmort]\n", 1), encoding="utf-8")
    result = load_scripts(dialogues_copy, catalogs)
    assert result.scripts is None
    (problem,) = [p for p in result.errors if "selvmort" in p.message]
    assert problem.path.name == "acute.yaml"
    line = text.splitlines().index("  - when: [selvmord]") + 1
    assert problem.line == line
    assert "selvmord" in problem.hint


# A weak cue ("knivar") in a question the bot cannot answer, far from every danger message.
PROP_KNIVES = "vi brukar knivar av papp i dansen på kulturskulen, er det greitt for sjuåringane?"


def test_a_weak_cue_the_bot_cannot_otherwise_answer_gives_way_to_the_fallback_with_help(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    alert = engine.alert(PROP_KNIVES)
    assert alert is not None and alert.weak, "the rules still see a weak cue"
    outcome = engine.handle(ChatState(lang="nn"), FreeText(PROP_KNIVES))
    assert outcome.route == "fallback" and outcome.nodes == (FALLBACK,)
    (reply,) = outcome.replies
    assert "112" in reply.text and "n:akutt" in callback_data(reply), "the fallback shows the way to help"
    assert main(["route", PROP_KNIVES]) == 0
    assert "alarmen ga plass for svaret «ikke forstått»" in capsys.readouterr().out


def test_a_weak_cue_with_an_answer_keeps_the_acute_help_first(engine: Engine) -> None:
    # "redd" is a weak cue the danger model finds far from danger, but the message has an answer
    # of its own (someone frightened): the acute help still comes first.
    outcome = engine.handle(ChatState(), FreeText("jeg er så redd"))
    assert outcome.route == "acute" and outcome.nodes[0] == "akutt" and len(outcome.nodes) == 2


def test_no_real_danger_in_any_labelled_set_gives_way_to_the_fallback(engine: Engine) -> None:
    in_danger = [e for e in load_examples(*TUNING, *HELDOUT) if e.expect in engine.acute_nodes()]
    taken_back = [
        e.text
        for e in in_danger
        if engine.alert(e.text) is not None
        and engine.handle(ChatState(lang=e.lang), FreeText(e.text)).route != "acute"
    ]
    assert len(in_danger) > 2000 and taken_back == []
