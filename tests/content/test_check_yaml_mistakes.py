"""The YAML mistakes staff really make, each reported at the line to change, with a caret and a fix."""

from __future__ import annotations

from pathlib import Path

from bot.content.problems import Problem
from bot.content.yaml_source import read_yaml
from tests.conftest import Reload
from tests.content.test_check_broken import edit, line_of, only_error

BUTTONS = """topic: telefon
nodes:
  - id: telefon
    title: Rådgivningstelefonen
    text: Ring oss.
    buttons:
      - text: Hva skjer når jeg ringer?
        goto: telefon_samtalen
      - text: Hvem kan ringe?
        goto: telefon_for_hvem
"""


def problem_in(tmp_path: Path, text: str) -> Problem:
    """The problem read_yaml finds in a script with this text."""
    path = tmp_path / "telefon.yaml"
    path.write_text(text, encoding="utf-8")
    found = read_yaml(path, Path("dialogues/nb/telefon.yaml"))
    assert isinstance(found, Problem), "the mistake was not noticed"
    return found


def caret(problem: Problem) -> str:
    """The two lines under the problem: the line as written, and the caret under the column."""
    shown = str(problem).splitlines()
    return "\n".join(shown[1:3])


def test_a_quote_never_closed_is_reported_where_it_opens(tmp_path: Path) -> None:
    text = BUTTONS.replace("- text: Hva skjer når jeg ringer?", '- text: "Hva skjer når jeg ringer?')
    problem = problem_in(tmp_path, text + "\n" * 40)  # PyYAML itself points at the end of the file
    assert problem.line == 7
    assert problem.message == 'the text that starts with " here has no closing "'
    assert problem.hint == 'end the text with " on the same line, or remove the " at its start.'
    assert caret(problem) == ('    7 |       - text: "Hva skjer når jeg ringer?\n      |               ^')


def test_a_button_indented_wrongly_says_so_in_plain_words(tmp_path: Path) -> None:
    problem = problem_in(tmp_path, BUTTONS.replace("      - text: Hvem", "     - text: Hvem"))
    assert problem.line == 9
    assert problem.message == "this line is not indented like the lines it belongs with"
    assert "every button's `- text:` lines up under the others" in problem.hint
    assert "block end" not in str(problem)
    assert caret(problem) == "    9 |      - text: Hvem kan ringe?\n      |      ^"


def test_a_non_breaking_space_as_indentation(tmp_path: Path) -> None:
    problem = problem_in(
        tmp_path, BUTTONS.replace("        goto: telefon_for_hvem", "\u00a0       goto: telefon_for_hvem")
    )
    assert problem.line == 10
    assert problem.message == (
        "this line is indented with a non-breaking space, which YAML does not count as a space"
    )
    assert (
        problem.hint
        == "delete the blank space at the start of the line and indent it again with the space bar."
    )
    assert caret(problem).endswith("\n       | ^")


def test_an_unquoted_hashtag_would_cut_the_text(tmp_path: Path) -> None:
    problem = problem_in(tmp_path, BUTTONS.replace("text: Hvem kan ringe?", "text: Del historien #metoo"))
    assert problem.line == 9
    assert problem.message == "the text stops before `#metoo`: YAML reads ` #` as the start of a comment"
    assert problem.hint == 'put the whole text in quotes: "Del historien #metoo"'
    assert (
        caret(problem) == "    9 |       - text: Del historien #metoo\n      |                             ^"
    )


def test_a_title_starting_with_a_number_sign(tmp_path: Path) -> None:
    problem = problem_in(tmp_path, BUTTONS.replace("title: Rådgivningstelefonen", "title: #1 spørsmål"))
    assert problem.line == 4
    assert problem.message == "the text stops before `#1 spørsmål`: YAML reads ` #` as the start of a comment"
    assert problem.hint == 'put the whole text in quotes: "#1 spørsmål"'


def test_a_comment_after_a_value_is_still_a_comment(tmp_path: Path) -> None:
    path = tmp_path / "facts.yaml"
    path.write_text("hotline:\n  phone: 400 38 800    # the number on the website\n", encoding="utf-8")
    doc = read_yaml(path)
    assert not isinstance(doc, Problem), doc
    assert doc.data == {"hotline": {"phone": "400 38 800"}}


def test_curly_quotes_around_a_time(dialogues_copy: Path, reload: Reload) -> None:
    facts = dialogues_copy / "facts.yaml"
    edit(facts, 'opens: "09:00"', "opens: \u201c09:00\u201d")
    error = only_error(reload, dialogues_copy)
    assert error.line == line_of(facts, "opens:")
    assert error.message == (
        "`hotline.hours.opens` is in curly quotes (\u201c09:00\u201d), which YAML does not read as quotes"
    )
    assert error.hint == 'write it with straight quotes: "09:00".'
    assert caret(error).endswith("\n       |            ^")


def test_a_yml_file_is_not_left_out_silently(dialogues_copy: Path, reload: Reload) -> None:
    (dialogues_copy / "nb" / "om.yaml").rename(dialogues_copy / "nb" / "nytt.yml")
    result = reload(dialogues_copy)
    assert result.scripts is None
    (error,) = [p for p in result.errors if p.path == Path("dialogues/nb/nytt.yml")]
    assert error.line == 1
    assert error.message == "`nytt.yml` is not read: the bot reads only files whose names end in .yaml"
    assert error.hint == "rename it to `nytt.yaml`."


def test_a_deleted_fact_is_to_be_put_back_not_swapped_for_another(
    dialogues_copy: Path, reload: Reload
) -> None:
    facts = dialogues_copy / "facts.yaml"
    edit(facts, "  lawyers: Advokatene Graasvold & Stenvaag\n", "")
    result = reload(dialogues_copy)
    assert result.scripts is None
    telefon = dialogues_copy / "nb" / "telefon.yaml"
    (error,) = [p for p in result.errors if p.path == Path("dialogues/nb/telefon.yaml")]
    assert error.line == line_of(telefon, "{hotline.lawyers}")
    assert error.message == "the fact {hotline.lawyers} does not exist in facts.yaml"
    assert error.hint == (
        "put `lawyers:` back under `hotline:` in dialogues/facts.yaml (version control has its old "
        "value), or remove {hotline.lawyers} from this text."
    )
    assert "did you mean" not in " ".join(p.hint for p in result.errors)


def test_a_translation_with_other_buttons(dialogues_copy: Path, reload: Reload) -> None:
    nynorsk = dialogues_copy / "nn" / "telefon.yaml"
    text = nynorsk.read_text(encoding="utf-8")
    first, second = "goto: telefon_samtalen", "goto: telefon_for_hvem"
    assert text.index(first) < text.index(second)
    nynorsk.write_text(
        text.replace(first, "goto: @@", 1).replace(second, first, 1).replace("goto: @@", second, 1),
        encoding="utf-8",
    )
    result = reload(dialogues_copy)
    assert result.scripts is not None, "a warning, as a stale translation is: Bokmål is edited first"
    (error,) = [p for p in result.problems if "other buttons" in p.message]
    assert error.severity == "warning"
    assert error.path == Path("dialogues/nn/telefon.yaml")
    assert error.line == line_of(nynorsk, "buttons:")
    assert error.message == "the nn translation of `telefon` has other buttons than the Bokmål node"
    assert error.hint == (
        "give it the Bokmål node's buttons in the same order, leading to `telefon_samtalen`, "
        "`telefon_for_hvem`, `usikker`, `quick_exit: true`."
    )
