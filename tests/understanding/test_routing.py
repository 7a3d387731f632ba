"""Free text reaches the right answer: accuracy on labelled messages, acute danger first, honest fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.commands.common import engine_or_exit
from bot.commands.confusion import DEFAULT_SETS
from bot.content.scripts import ACUTE, FALLBACK, Scripts
from bot.engine.engine import Engine
from bot.engine.model import ChatState, FreeText
from bot.i18n import Catalogs
from bot.staff.evaluation import Report, evaluate, load_examples
from tests.conftest import Reload
from tests.support.buttons import callback_data

HERE = Path(__file__).parent
LABELLED = HERE / "labelled.yaml"
HELDOUT = HERE / "heldout.yaml"
ACCURACY_BAR = 0.95
# The held-out set was written without seeing the scripts and is never tuned on; its bar is lower,
# and its figure is what to expect from people the scripts were not written for.
HELDOUT_BAR = 0.85


@pytest.fixture(scope="module")
def report(engine: Engine) -> Report:
    """The engine's answers to every labelled message."""
    return evaluate(engine, load_examples(LABELLED))


def describe(report: Report) -> str:
    """Accuracy per node and every miss, as `balansebot confusion` prints them."""
    lines = [f"{node:>24} {right}/{total}" for node, (right, total) in report.per_node().items()]
    lines += [f"{v.example.expect} -> {v.answered}: {v.example.text!r}" for v in report.misses()]
    return "\n".join(lines)


def test_the_labelled_set_is_real_and_complete(scripts: Scripts) -> None:
    examples = load_examples(LABELLED)
    assert len(examples) >= 200
    nodes = set(scripts.language("nb").nodes)
    assert {e.expect for e in examples} <= nodes
    assert {e.lang for e in examples} == {"nb", "nn", "en"}
    assert sum(e.expect == FALLBACK for e in examples) >= 30
    assert sum(len(e.text) > 140 for e in examples) >= 20, "long, rambling messages are part of it"


def test_top1_accuracy_is_above_the_bar(report: Report) -> None:
    print(describe(report))
    assert report.accuracy >= ACCURACY_BAR, describe(report)


def test_every_acute_message_gets_acute_help_and_nothing_else_does(report: Report) -> None:
    assert [v.example.text for v in report.acute_misses()] == []
    assert [v.example.text for v in report.false_alarms()] == []
    assert sum(v.example.expect == ACUTE for v in report.verdicts) >= 40


def test_out_of_scope_always_gets_the_honest_fallback(report: Report) -> None:
    wrong = [
        (v.example.text, v.answered)
        for v in report.verdicts
        if v.example.expect == FALLBACK and (v.answered != FALLBACK or v.ambiguous)
    ]
    assert wrong == []


def test_heldout_set_generalises(engine: Engine) -> None:
    heldout = evaluate(engine, load_examples(HELDOUT))
    print(f"held-out top-1 accuracy {heldout.accuracy:.1%}\n{describe(heldout)}")
    assert heldout.accuracy >= HELDOUT_BAR, describe(heldout)
    assert heldout.acute_misses() == []
    assert heldout.false_alarms() == []


def test_ordinary_questions_about_violence_are_not_alarms(engine: Engine) -> None:
    for text in (
        "hva er voldtekt i loven",
        "er trusler trakassering",
        "kan man anmelde vold som skjedde i fjor",
        "er jeg i fare for å miste jobben hvis jeg sier fra",
        "når er telefonen åpen",  # "åpen" is one letter from "våpen"
    ):
        assert engine.handle(ChatState(), FreeText(text)).route != "acute", text


@pytest.mark.parametrize(
    "text",
    [
        "I am in danger right now",
        "someone is hurting me",
        "I need help now",
        "jeg er i fare nå",
        "eg er i fare no",
    ],
)
def test_plain_danger_in_any_language_is_acute(engine: Engine, text: str) -> None:
    for lang in ("nb", "nn", "en"):
        outcome = engine.handle(ChatState(lang=lang), FreeText(text))
        assert outcome.route == "acute", (lang, text)
        assert "112" in outcome.replies[0].text


def test_two_equally_likely_topics_ask_mente_du(
    dialogues_copy: Path, reload: Reload, catalogs: Catalogs
) -> None:
    # Two nodes in different topics that answer the same words equally well.
    for name, node_id in (("om.yaml", "om_lydprove"), ("telefon.yaml", "telefon_lydprove")):
        path = dialogues_copy / "nb" / name
        path.write_text(
            path.read_text(encoding="utf-8")
            + f"\n  - id: {node_id}\n    title: Lydprøve\n    text: Svar om lydprøver.\n    end: true\n"
            "    keywords: [lydprøve, soundcheck]\n",
            encoding="utf-8",
        )
    result = reload(dialogues_copy)
    assert result.scripts is not None, result.errors
    engine = Engine(result.scripts, catalogs)
    outcome = engine.handle(ChatState(node="start"), FreeText("lydprøve soundcheck"))
    assert outcome.route == "ambiguous"
    assert set(outcome.nodes) == {"om_lydprove", "telefon_lydprove"}
    assert outcome.state == ChatState(node="start"), "asking is not moving"
    (reply,) = outcome.replies
    assert "Mente du" in reply.text
    data = callback_data(reply)
    assert sorted(data[:2]) == ["n:om_lydprove", "n:telefon_lydprove"]
    assert [b.text for row in reply.keyboard for b in row][-1] == "↩️ Til menyen"
    one_topic = engine.handle(ChatState(), FreeText("hva er balansemerket"))
    assert one_topic.route == "node", "close candidates within one topic are not a question"


def test_a_wrong_answer_is_fixed_by_editing_only_a_dialogue_file(
    dialogues_copy: Path, reload: Reload, catalogs: Catalogs
) -> None:
    question = "finnes det en podkast om dette"
    before = reload(dialogues_copy)
    assert before.scripts is not None
    engine = Engine(before.scripts, catalogs)
    assert engine.handle(ChatState(), FreeText(question)).route == "fallback"

    path = dialogues_copy / "nb" / "om.yaml"
    text = path.read_text(encoding="utf-8")
    assert "    keywords: [" in text
    path.write_text(text.replace("    keywords: [", "    keywords: [podkast, ", 1), encoding="utf-8")
    after = reload(dialogues_copy)
    assert after.scripts is not None
    outcome = Engine(after.scripts, catalogs).handle(ChatState(), FreeText(question))
    assert (outcome.route, outcome.nodes) == ("node", ("om",))


def test_confusion_command_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["confusion"]) == 0
    out = capsys.readouterr().out
    # The default sets are the ones staff tune on: all of them, and none of the held-out parts.
    report = evaluate(engine_or_exit(None), load_examples(*DEFAULT_SETS))
    assert f"treffsikkerhet {report.accuracy:.1%} på {len(report.verdicts)} meldinger" in out
    assert f"akutt funnet {report.acute_recall:.1%} ({len(report.acute_misses())} bommet)" in out
    assert not any("heldout" in p.name for p in DEFAULT_SETS)
    assert all(
        f" {category} " in out for category in ("acute", "trap", "disclosure", "out_of_scope", "topic")
    )
