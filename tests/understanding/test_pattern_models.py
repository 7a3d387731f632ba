"""The pattern models: trained on today's tuning sets, computed as scikit-learn computes them, and
used as second opinions (a weak alarm; an answer only when fairly sure)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.commands.confusion import CORPUS, TUNED_ON
from bot.engine.engine import PATTERN_CUE, Engine
from bot.engine.model import ChatState, FreeText
from bot.understanding.pattern_model import (
    ANSWER_MODEL_FILE,
    DANGER_MODEL_FILE,
    NO_DANGER,
    PatternModel,
    answer_model,
    danger_model,
    digest_of,
    features,
)

# The rules in acute.yaml do not know this wording; the danger model has learned the kind of message.
ONLY_THE_MODEL_KNOWS = "alle hadde klart seg fint uten meg uansett"
TRAIN = "uv run --group train python scripts/train_models.py"
MODELS = {"danger": (danger_model, DANGER_MODEL_FILE), "answer": (answer_model, ANSWER_MODEL_FILE)}


@pytest.fixture(scope="module", params=sorted(MODELS))
def shipped(request: pytest.FixtureRequest) -> tuple[PatternModel, Path]:
    """Each model shipped with the code, and its file."""
    load, path = MODELS[request.param]
    model = load()
    assert model is not None, f"{path.name} is missing: {TRAIN}"
    return model, path


def test_the_models_were_trained_on_todays_tuning_sets(shipped: tuple[PatternModel, Path]) -> None:
    model, path = shipped
    assert model.trained_on == digest_of([CORPUS / name for name in TUNED_ON]), (
        f"a tuning set changed since {path.name} was trained: run `{TRAIN}` and commit the models"
    )


def test_the_probabilities_are_scikit_learns_to_the_sixth_decimal(shipped: tuple[PatternModel, Path]) -> None:
    model, path = shipped
    with gzip.open(path, "rt", encoding="utf-8") as file:
        probes: dict[str, list[float]] = json.load(file)["probes"]
    assert len(probes) >= 3
    for text, expected in probes.items():
        got = model.probabilities(text)
        assert [round(got[c], 6) for c in model.classes] == expected, text
    assert 0.2 <= model.threshold <= 0.95


def test_the_danger_model_knows_both_acute_answers() -> None:
    model = danger_model()
    assert model is not None and set(model.classes) == {NO_DANGER, "akutt", "akutt_selvmord"}


def test_patterns_meet_across_typos_and_missing_letters() -> None:
    with_letters, without = set(features("jeg orker ikke mer")), set(features("jeg orkr ikke mær"))
    assert {"w:jeg", "w:orker", "p:jeg_orker", " ork", "rker "} <= with_letters
    assert {" ork", "w:ikke", " mae"} <= without, "a typo and æ keep letter groups"
    assert features("") == [] and features("🙂 ...") == []


def test_the_danger_model_alone_raises_a_weak_alarm_and_says_why(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert engine.rules_alert(ONLY_THE_MODEL_KNOWS) is None
    alert = engine.alert(ONLY_THE_MODEL_KNOWS)
    assert alert is not None and alert.weak and alert.node == "akutt_selvmord"
    assert alert.because[0].startswith(PATTERN_CUE)
    outcome = engine.handle(ChatState(), FreeText(ONLY_THE_MODEL_KNOWS))
    assert outcome.route == "acute" and outcome.nodes[0] == "akutt_selvmord"
    assert main(["route", ONLY_THE_MODEL_KNOWS]) == 0
    assert f"fordi: {PATTERN_CUE}" in capsys.readouterr().out


def test_the_answer_model_answers_only_when_fairly_sure_and_never_for_danger(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    model = answer_model()
    assert model is not None
    sure = engine.learned_answer("kan en frilanser ringe dere")
    assert sure is not None and sure[0] == "telefon_for_hvem" and sure[1] >= model.threshold
    for text in ("han står utenfor døra mi nå", "jeg vil ikke leve mer"):
        assert engine.learned_answer(text) is None, "danger is for the rules and the danger model"
    assert main(["route", "kan en frilanser ringe dere"]) == 0
    assert f"svar fra {PATTERN_CUE}: telefon_for_hvem" in capsys.readouterr().out
    # Staff's own words win: a node phrase said word for word is answered by the router.
    assert engine.router().route("er det min feil").in_staffs_words
    assert engine.handle(ChatState(), FreeText("er det min feil")).nodes == ("ikke_din_skyld",)


def test_harmless_questions_raise_no_alarm(engine: Engine) -> None:
    for text in ("når er rådgivningstelefonen åpen", "hvordan får vi Balansemerket", "what is Balansekunst"):
        assert engine.alert(text) is None, text
