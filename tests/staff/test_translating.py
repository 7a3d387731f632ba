"""`balansebot translations`: what changed in Bokmål since a translation, `--done` and `--scaffold`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.content.kept_versions import KeptVersions
from bot.content.loader import load_scripts
from bot.i18n import Catalogs
from tests.conftest import Reload


@pytest.fixture
def kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder of kept versions the command reads (KEPT_SCRIPTS_DIR), empty at first."""
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    folder = tmp_path / "kept-scripts"
    monkeypatch.setenv("KEPT_SCRIPTS_DIR", str(folder))
    return folder


def translations(capsys: pytest.CaptureFixture[str], folder: Path, *args: str) -> tuple[int, str]:
    """Run `balansebot --lang en translations --dialogues FOLDER ARGS`: its exit code and output."""
    code = main(["--lang", "en", "translations", "--dialogues", str(folder), *args])
    return code, capsys.readouterr().out


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def block(output: str, start: str) -> str:
    """The lines of one entry: from the line containing `start` to the next entry."""
    lines = output.splitlines()
    first = next(i for i, line in enumerate(lines) if start in line)
    rest = [line for line in lines[first + 1 :]]
    end = next((i for i, line in enumerate(rest) if not line.startswith(" ")), len(rest))
    return "\n".join([lines[first], *rest[:end]])


def change_telefon(nb: Path) -> None:
    """Change what a reader sees of the Bokmål `telefon` node: its title, a line of text, a button."""
    telefon = nb / "telefon.yaml"
    edit(telefon, "    title: Rådgivningstelefonen\n", "    title: Ring Rådgivningstelefonen\n")
    edit(telefon, "Et gratis tilbud til deg", "Et helt gratis tilbud til deg")
    edit(telefon, "- text: Hvem kan ringe?", "- text: Hvem kan ringe oss?")


def test_a_stale_translation_shows_what_changed_in_bokmal(
    dialogues_copy: Path, kept: Path, catalogs: Catalogs, capsys: pytest.CaptureFixture[str]
) -> None:
    went_live = load_scripts(dialogues_copy, catalogs).scripts
    assert went_live is not None
    KeptVersions(kept).keep(went_live, dialogues_copy)  # as serve and preview keep each live version
    assert translations(capsys, dialogues_copy) == (
        0,
        "0 translations to do (languages besides Bokmål: en, nn).\n",
    )

    change_telefon(dialogues_copy / "nb")
    code, shown = translations(capsys, dialogues_copy)
    assert code == 1
    nn = block(shown, "dialogues/nn/telefon.yaml:")
    assert "`telefon` was translated from an older Bokmål text" in nn
    assert "title: «Rådgivningstelefonen» → «Ring Rådgivningstelefonen»" in nn
    assert "button 2: «Hvem kan ringe?» → «Hvem kan ringe oss?»" in nn
    assert "      -Et gratis tilbud til deg" in nn and "      +Et helt gratis tilbud til deg" in nn
    assert "button 1" not in nn and "Advokatene kan også" not in nn, (
        "only what changed, with a line around it"
    )
    assert nn.endswith("when it is done: balansebot translations --done nn telefon")
    assert "dialogues/en/telefon.yaml:" in shown
    assert shown.endswith("2 translations to do (languages besides Bokmål: en, nn).\n")


def test_without_a_kept_version_the_old_text_is_said_to_be_unknown(
    dialogues_copy: Path, kept: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change_telefon(dialogues_copy / "nb")
    code, shown = translations(capsys, dialogues_copy)
    assert code == 1
    nn = block(shown, "dialogues/nn/telefon.yaml:")
    assert "What the Bokmål said then is unknown: no kept version has fingerprint 47a0c787." in nn
    assert "Compare the translation with the whole Bokmål node at dialogues/nb/telefon.yaml:3." in nn
    assert not kept.exists(), "looking stores nothing"


def test_done_writes_the_fingerprint_on_its_own_line_and_keeps_the_bokmal(
    dialogues_copy: Path, kept: Path, reload: Reload, capsys: pytest.CaptureFixture[str]
) -> None:
    nn_file = dialogues_copy / "nn" / "telefon.yaml"
    edit(nn_file, "    translated_from: 47a0c787\n", "    translated_from: 47a0c787   # sjekket av Kari\n")
    nn_file.write_bytes(nn_file.read_bytes().replace(b"\n", b"\r\n"))  # saved on Windows
    change_telefon(dialogues_copy / "nb")
    before = nn_file.read_bytes().split(b"\r\n")
    current = reload(dialogues_copy).scripts
    assert current is not None
    fingerprint = current.language("nb").nodes["telefon"].fingerprint

    code, shown = translations(capsys, dialogues_copy, "--done", "nn", "telefon")
    assert (code, shown) == (
        0,
        f"dialogues/nn/telefon.yaml:35: `telefon` now records translated_from: {fingerprint}\n",
    )
    after = nn_file.read_bytes().split(b"\r\n")
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert changed == [
        (
            b"    translated_from: 47a0c787   # sjekket av Kari",
            f"    translated_from: {fingerprint}   # sjekket av Kari".encode(),
        )
    ]
    stale = [p for p in reload(dialogues_copy).problems if "translation of `telefon`" in p.message]
    assert [p.path for p in stale] == [Path("dialogues/en/telefon.yaml")], "nn is done, en is still to do"

    # No version went live meanwhile, so --done kept the Bokmål it records: a later change shows a diff.
    edit(
        dialogues_copy / "nb" / "telefon.yaml",
        "    title: Ring Rådgivningstelefonen\n",
        "    title: Telefonen\n",
    )
    _, shown = translations(capsys, dialogues_copy)
    assert "title: «Ring Rådgivningstelefonen» → «Telefonen»" in block(shown, "dialogues/nn/telefon.yaml:")


def test_done_adds_translated_from_to_a_node_without_it(
    dialogues_copy: Path, kept: Path, reload: Reload, capsys: pytest.CaptureFixture[str]
) -> None:
    nn_file = dialogues_copy / "nn" / "telefon.yaml"
    edit(nn_file, "    translated_from: 47a0c787\n", "")
    assert "`telefon` does not say which Bokmål text it translates" in translations(capsys, dialogues_copy)[1]
    unstamped = nn_file.read_text(encoding="utf-8").splitlines()
    assert translations(capsys, dialogues_copy, "--done", "nn", "telefon")[0] == 0
    stamped = nn_file.read_text(encoding="utf-8").splitlines()
    assert stamped[:34] + stamped[35:] == unstamped, "one line added, nothing else changed"
    assert stamped[34] == "    translated_from: 47a0c787", "at the end of the node, where the others have it"
    assert not [p for p in reload(dialogues_copy).problems if "`telefon`" in p.message]


def test_done_refuses_an_unknown_language_or_node(
    dialogues_copy: Path, kept: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert translations(capsys, dialogues_copy, "--done", "se", "telefon")[0] == 2
    code, shown = translations(capsys, dialogues_copy, "--done", "nn", "telefonen")
    assert code == 2 and "There is no node `telefonen`" in shown


NEW_NODE = """
  - id: telefon_kveld
    title: Ring om kvelden
    text: |
      Telefonen er ikke åpen om kvelden.

      Skriv «#1 spørsmål» i e-posten: "slik".
    buttons:
      - text: Tilbake til telefonen
        goto: telefon
      - text: Skjul samtalen
        quick_exit: true
      - text: "Les mer: nettsiden"
        url: https://balansekunst.no
"""


def test_scaffold_writes_skeletons_that_check_reports_until_translated(
    dialogues_copy: Path, kept: Path, reload: Reload, capsys: pytest.CaptureFixture[str]
) -> None:
    telefon = dialogues_copy / "nb" / "telefon.yaml"
    telefon.write_text(telefon.read_text(encoding="utf-8") + NEW_NODE, encoding="utf-8")
    edit(
        telefon,
        "        goto: telefon_for_hvem\n",
        "        goto: telefon_for_hvem\n      - text: Kveld\n        goto: telefon_kveld\n",
    )
    missing = [
        p for p in reload(dialogues_copy).problems if "`telefon_kveld` has no nn translation" in p.message
    ]
    assert missing and "balansebot translations --scaffold nn" in missing[0].hint

    code, shown = translations(capsys, dialogues_copy, "--scaffold", "nn")
    assert (code, shown) == (
        0,
        "dialogues/nn/telefon_ny.yaml: a skeleton of 1 node to translate (telefon_kveld)\n",
    )
    skeleton = dialogues_copy / "nn" / "telefon_ny.yaml"
    written = skeleton.read_text(encoding="utf-8")
    assert "  - id: telefon_kveld\n" in written
    assert '    title: "Ring om kvelden"  # TRANSLATE from Bokmål\n' in written
    assert "        goto: telefon\n" in written and "        quick_exit: true\n" in written
    assert '        url: "https://balansekunst.no"\n' in written
    assert "    translated_from: ikke_oversatt\n" in written

    result = reload(dialogues_copy)
    assert result.scripts is not None, "a skeleton is served (in Bokmål words) while it waits"
    skeleton_node = result.scripts.language("nn").nodes["telefon_kveld"]
    bokmal_node = result.scripts.language("nb").nodes["telefon_kveld"]
    assert (skeleton_node.title, skeleton_node.text, skeleton_node.buttons) == (
        bokmal_node.title,
        bokmal_node.text,
        bokmal_node.buttons,
    )
    (warning,) = [p for p in result.problems if "telefon_kveld" in p.message and "nn" in p.message]
    assert warning.message == "`telefon_kveld` in nn is a skeleton nobody has translated yet"
    assert (warning.path, warning.line) == (Path("dialogues/nn/telefon_ny.yaml"), written.count("\n") - 0)
    assert "`balansebot translations --done nn telefon_kveld`" in warning.hint
    assert "is a skeleton not translated yet" in translations(capsys, dialogues_copy)[1]

    edit(skeleton, '"Ring om kvelden"', "Ringje om kvelden")
    assert translations(capsys, dialogues_copy, "--done", "nn", "telefon_kveld")[0] == 0
    assert not [
        p for p in reload(dialogues_copy).problems if "telefon_kveld" in p.message and "nn" in p.message
    ]
    assert translations(capsys, dialogues_copy, "--scaffold", "nn") == (
        0,
        "nn has every Bokmål node; nothing to write.\n",
    )
