"""`balansebot check` refuses each kind of broken script with file:line and a fix hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.content.problems import Problem
from tests.conftest import Reload


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace text in a script, insisting that it was there."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    """The 1-based line where `needle` first appears."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def only_error(reload: Reload, folder: Path) -> Problem:
    """The single error the scripts now have (and proof they would not be served)."""
    result = reload(folder)
    assert result.scripts is None
    assert len(result.errors) == 1, "\n".join(map(str, result.errors))
    return result.errors[0]


def test_unknown_node_reference_names_the_line_and_the_likely_id(
    dialogues_copy: Path, reload: Reload
) -> None:
    telefon = dialogues_copy / "nb" / "telefon.yaml"
    edit(telefon, "goto: telefon_samtalen", "goto: telefon_samtal")
    error = only_error(reload, dialogues_copy)
    assert error.path == Path("dialogues/nb/telefon.yaml")
    assert error.line == line_of(telefon, "goto: telefon_samtal")
    assert "no node `telefon_samtal`" in error.message
    assert "telefon_samtalen" in error.hint


def test_unreachable_node_is_a_warning(dialogues_copy: Path, reload: Reload) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    om.write_text(
        om.read_text(encoding="utf-8")
        + (
            "\n  - id: gammel_side\n    title: Gammel\n    text: Ingen peker hit.\n"
            "    buttons:\n      - text: Ring\n        goto: telefon\n"
        ),
        encoding="utf-8",
    )
    result = reload(dialogues_copy)
    assert result.scripts is not None, "a half-finished edit (a node not linked yet) is still served"
    (warning,) = [p for p in result.problems if "nothing leads" in p.message]
    assert warning.severity == "warning"
    assert warning.line == line_of(om, "id: gammel_side")
    assert "nothing leads to node `gammel_side` yet" in warning.message
    assert "goto: gammel_side" in warning.hint


def test_dead_end(dialogues_copy: Path, reload: Reload) -> None:
    akutt = dialogues_copy / "nb" / "akutt.yaml"
    text = akutt.read_text(encoding="utf-8")
    # The first node loses its buttons; the node after it stays.
    start, end = text.index("    buttons:"), text.index("\n  - id: ", text.index("    buttons:"))
    akutt.write_text(text[:start] + text[end + 1 :], encoding="utf-8")
    error = only_error(reload, dialogues_copy)
    assert error.line == line_of(akutt, "- id: akutt")
    assert "dead end" in error.message
    assert "end: true" in error.hint


def test_missing_fact(dialogues_copy: Path, reload: Reload) -> None:
    telefon = dialogues_copy / "nb" / "telefon.yaml"
    edit(telefon, "{hotline.phone}", "{hotline.phon}")
    error = only_error(reload, dialogues_copy)
    assert error.line == line_of(telefon, "{hotline.phon}")
    assert "{hotline.phon} does not exist" in error.message
    assert "{hotline.phone}" in error.hint


def test_duplicate_id_across_files_points_at_both(dialogues_copy: Path, reload: Reload) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    edit(om, "- id: om", "- id: telefon")
    result = reload(dialogues_copy)
    dup = [p for p in result.errors if "used twice" in p.message]
    assert len(dup) == 1
    first = dialogues_copy / "nb" / "om.yaml", dialogues_copy / "nb" / "telefon.yaml"
    # Files load in name order, so the copy in telefon.yaml is the second one seen.
    assert dup[0].path == Path("dialogues/nb/telefon.yaml")
    assert dup[0].line == line_of(first[1], "- id: telefon")
    assert f"dialogues/nb/om.yaml:{line_of(first[0], '- id: telefon')}" in dup[0].hint


def test_duplicate_yaml_key(dialogues_copy: Path, reload: Reload) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    edit(om, "    title: ", "    title: Første\n    title: ")
    error = only_error(reload, dialogues_copy)
    assert error.line == line_of(om, "title: Første") + 1
    assert "`title` appears twice" in error.message


def test_text_over_4096_characters(dialogues_copy: Path, reload: Reload) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    edit(om, "    text: |\n", "    text: |\n      " + "Lang tekst. " * 400 + "\n")
    error = only_error(reload, dialogues_copy)
    assert error.line == line_of(om, "text: |")
    assert "Telegram's limit is 4096" in error.message
    assert "split" in error.hint


def test_long_text_is_a_warning_not_an_error(dialogues_copy: Path, reload: Reload) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    edit(om, "    text: |\n", "    text: |\n      " + "Litt lang tekst. " * 80 + "\n")
    result = reload(dialogues_copy)
    assert result.scripts is not None
    assert any("characters long" in p.message and p.severity == "warning" for p in result.problems)


def test_callback_data_over_64_bytes(dialogues_copy: Path, reload: Reload) -> None:
    long_id = "om_" + "x" * 62
    om = dialogues_copy / "nb" / "om.yaml"
    edit(om, "- id: om", f"- id: {long_id}")
    edit(dialogues_copy / "nb" / "start.yaml", "goto: om", f"goto: {long_id}", count=2)
    result = reload(dialogues_copy)
    errors = [p for p in result.errors if "callback data" in p.message]
    assert errors and result.scripts is None
    assert errors[0].path == Path("dialogues/nb/start.yaml")
    assert errors[0].line == line_of(dialogues_copy / "nb" / "start.yaml", f"goto: {long_id}")
    assert "67 bytes" in errors[0].message
    assert "shorter node id" in errors[0].hint


@pytest.mark.parametrize(
    ("html", "message", "hint"),
    [
        ("Første linje<br>andre", "tag <br>", "line break"),
        ("<p>Avsnitt</p>", "tag <p>", "line break"),
        ("<b>Aldri lukket", "<b> is never closed", "</b>"),
        ("<b>Feil <i>rekkefølge</b></i>", "</b> closes a tag that is not open", "reverse order"),
        ("Mindre enn 3 < 4", "bare `<`", "&lt;"),
        ("Tom & Jerry", "bare `&`", "&amp;"),
        ('<a href="mailto:hei@example.no">skriv</a>', "not an http(s) or tg:// address", "plain text"),
        ('<span class="rod">x</span>', 'without class="tg-spoiler"', "tg-spoiler"),
        ("<h1>Overskrift</h1>", "tag <h1>", "<b>"),
    ],
)
def test_html_telegram_would_reject(
    dialogues_copy: Path, reload: Reload, html: str, message: str, hint: str
) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    edit(om, "    text: |\n", "    text: |\n      Linje én.\n      " + html + "\n")
    error = only_error(reload, dialogues_copy)
    assert error.line == line_of(om, "text: |") + 2, "the line inside the text block"
    assert message in error.message
    assert hint in error.hint


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("tel:+4740038800", "refuses tel: and mailto:"),
        ("mailto:hei@balansekunstprosjektet.no", "refuses tel:"),
        ("ftp://example.org/fil", "https://"),
        ("www.balansekunst.no", "https://"),
    ],
)
def test_url_buttons_must_be_http_or_tg(dialogues_copy: Path, reload: Reload, url: str, hint: str) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    edit(om, "    buttons:\n", f"    buttons:\n      - text: Lenke\n        url: {url}\n")
    error = only_error(reload, dialogues_copy)
    assert error.line == line_of(om, f"url: {url}")
    assert "not a web address" in error.message
    assert hint in error.hint


def test_yaml_syntax_error_names_the_line(dialogues_copy: Path, reload: Reload) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    edit(om, "    title: ", "    title: [uavsluttet ")
    error = only_error(reload, dialogues_copy)
    assert error.path == Path("dialogues/nb/om.yaml")
    assert "not valid YAML" in error.message
    assert error.line >= line_of(om, "[uavsluttet")


def test_tab_indentation(dialogues_copy: Path, reload: Reload) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    edit(om, "    title: ", "\ttitle: ")
    error = only_error(reload, dialogues_copy)
    assert error.line == line_of(om, "\ttitle")
    assert "tab" in error.hint.lower() or "indent" in error.hint.lower()


def test_unknown_key_suggests_the_right_one(dialogues_copy: Path, reload: Reload) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    edit(om, "    buttons:", "    buttns:")
    error = only_error(reload, dialogues_copy)
    assert error.line == line_of(om, "buttns:")
    assert "unknown key `buttns`" in error.message
    assert "`buttons`" in error.hint


def test_button_with_both_targets(dialogues_copy: Path, reload: Reload) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    edit(om, "        goto: merket", "        goto: merket\n        url: https://example.org")
    error = only_error(reload, dialogues_copy)
    assert "exactly one of `goto:`" in error.message
    assert om.read_text(encoding="utf-8").splitlines()[error.line - 1].strip().startswith("- text:")


def test_invalid_id(dialogues_copy: Path, reload: Reload) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    edit(om, "- id: om", "- id: Om Balansekunst")
    result = reload(dialogues_copy)
    assert result.scripts is None
    bad = [p for p in result.errors if "not a valid name" in p.message]
    assert bad and bad[0].line == line_of(om, "id: Om Balansekunst")
    assert "æ, ø, å" in bad[0].hint


def test_required_node_missing(dialogues_copy: Path, reload: Reload) -> None:
    (dialogues_copy / "nb" / "akutt.yaml").unlink()
    result = reload(dialogues_copy)
    assert result.scripts is None
    messages = [p.message for p in result.errors]
    assert "the required node `akutt` is missing" in messages
    assert any("there is no node `akutt`" in m for m in messages)  # the menu's button and acute.yaml


def test_built_in_command_cannot_be_claimed(dialogues_copy: Path, reload: Reload) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    edit(om, "    title: ", "    command: slett\n    title: ")
    error = only_error(reload, dialogues_copy)
    assert error.line == line_of(om, "command: slett")
    assert "/slett is a built-in command" in error.message


def test_bad_opening_hours_in_facts(dialogues_copy: Path, reload: Reload) -> None:
    facts = dialogues_copy / "facts.yaml"
    edit(facts, 'closes: "16:00"', 'closes: "08:00"')
    error = only_error(reload, dialogues_copy)
    assert error.path == Path("dialogues/facts.yaml")
    assert error.line == line_of(facts, "hours:")
    assert "`opens` must be earlier than `closes`" in error.message


def test_not_utf8(dialogues_copy: Path, reload: Reload) -> None:
    (dialogues_copy / "nb" / "om.yaml").write_bytes("topic: om\ntitle: Bl\u00e5".encode("latin-1"))
    error = only_error(reload, dialogues_copy)
    assert "not UTF-8" in error.message
    assert "UTF-8" in error.hint


def test_norway_problem_does_not_turn_no_into_false(dialogues_copy: Path, reload: Reload) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    edit(om, "keywords: [", "keywords: [no, NO, 16:00, ")
    result = reload(dialogues_copy)
    assert result.scripts is not None, "\n".join(map(str, result.errors))
    assert {"no", "NO", "16:00"} <= set(result.scripts.language("nb").nodes["om"].keywords)


def test_cli_exits_nonzero_and_prints_file_line(
    dialogues_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    telefon = dialogues_copy / "nb" / "telefon.yaml"
    edit(telefon, "goto: telefon_samtalen", "goto: nowhere")
    code = main(["check", "--dialogues", str(dialogues_copy)])
    out = capsys.readouterr().out
    assert code == 1
    line = line_of(telefon, "goto: nowhere")
    assert f"dialogues/nb/telefon.yaml:{line}: feil: det finnes ingen node `nowhere`\n" in out
    assert "    slik retter du det: sjekk stavemåten, eller legg til en node med den id-en.\n" in out
    assert out.endswith("Ingenting ble endret; rett linjene over og kjør `balansebot check` igjen.\n")


def test_cli_passes_on_shipped_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    # A source growing older than a year is a reminder for staff, not a reason for CI to fail on
    # a date alone: every other warning counts.
    main(["check"])
    out = capsys.readouterr().out
    warnings = [line for line in out.splitlines() if ": advarsel: " in line]
    assert [w for w in warnings if "for mer enn et år siden" not in w] == [], out
    assert "OK:" in out and ": warning: " not in out


def test_facts_the_runtime_acts_on_must_be_numbers(dialogues_copy: Path, reload: Reload) -> None:
    facts = dialogues_copy / "facts.yaml"
    edit(facts, "retention_days: 30", "retention_days: tretti")
    error = only_error(reload, dialogues_copy)
    assert error.path == Path("dialogues/facts.yaml")
    assert error.line == line_of(facts, "retention_days: tretti")
    assert "`privacy.retention_days` must be a whole number" in error.message


def test_a_translation_must_follow_a_bokmal_node(dialogues_copy: Path, reload: Reload) -> None:
    (dialogues_copy / "en").mkdir(exist_ok=True)
    extra = dialogues_copy / "en" / "extra.yaml"
    extra.write_text(
        "topic: extra\nnodes:\n  - id: only_in_english\n    title: Extra\n    text: Hello.\n    end: true\n",
        encoding="utf-8",
    )
    result = reload(dialogues_copy)
    assert result.scripts is None
    error = next(p for p in result.errors if "no Bokmål node" in p.message)
    assert (error.path, error.line) == (Path("dialogues/en/extra.yaml"), 3)


def test_a_changed_bokmal_text_makes_its_translations_stale(dialogues_copy: Path, reload: Reload) -> None:
    (dialogues_copy / "nn" / "om.yaml").unlink()
    before = reload(dialogues_copy)
    assert before.scripts is not None
    fingerprint = before.scripts.language("nb").nodes["om"].fingerprint
    (dialogues_copy / "nn" / "om_test.yaml").write_text(
        "topic: om\nnodes:\n  - id: om\n    title: Om Balansekunst\n    text: Om oss.\n"
        f"    translated_from: {fingerprint}\n    buttons:\n      - text: Merket\n        goto: merket\n"
        "      - text: Ring\n        goto: telefon\n",
        encoding="utf-8",
    )
    fresh = reload(dialogues_copy)
    assert not [p for p in fresh.problems if "`om`" in p.message and "nn" in p.message]
    edit(dialogues_copy / "nb" / "om.yaml", "    text: |\n", "    text: |\n      Ny første linje.\n")
    stale = reload(dialogues_copy)
    warning = next(p for p in stale.problems if "nn translation of `om` is older" in p.message)
    assert warning.severity == "warning"
    assert warning.line == 6
    current = stale.scripts.language("nb").nodes["om"].fingerprint if stale.scripts else ""
    assert f"translated_from: {current}" in warning.hint and current != fingerprint


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("auto_delete: 72h", "later than Telegram lets the bot delete messages"),
        ("auto_delete: 90 minutes", "is not a time the bot understands"),
        ("auto_delete: 8h\n        quick_exit: true", "exactly one of `goto:`"),
    ],
)
def test_auto_delete_and_quick_exit_buttons_telegram_could_not_honour(
    dialogues_copy: Path, reload: Reload, written: str, message: str
) -> None:
    privacy = dialogues_copy / "nb" / "personvern.yaml"
    edit(privacy, "auto_delete: 8h", written)
    error = only_error(reload, dialogues_copy)
    assert message in error.message
    assert error.line in (line_of(privacy, written.split("\n")[0]), line_of(privacy, "text: Om åtte timer"))
